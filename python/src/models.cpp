// duet.keras's models, engine side: functional models, Sequential, models subclassed in Python (the layer
// trampoline over Model), and compile / fit / evaluate / predict / save, which run in C++ without the GIL
// (Python layers, losses and callbacks take it back while their Python code runs). Optimizers, losses,
// metrics and callbacks are the engine's objects; a Python callable can be a loss, a Python subclass of
// Callback a callback. duet/keras/_model.py gives all of it Keras's signatures.
#include <nanobind/stl/map.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/trampoline.h>

#include <streambuf>

#include "bindings.h"
#include "trampoline.h"

namespace duet::python {
namespace {

using callbacks::Callback;
using callbacks::CallbackPtr;

// fit's and evaluate's printing into Python's sys.stdout (so pytest captures it and notebooks show it): the
// text goes out a line (or a progress bar's carriage return) at a time, with the GIL.
class PyStdout : public std::streambuf {
 protected:
  int_type overflow(int_type ch) override {
    if (ch == traits_type::eof()) return 0;
    buf_ += static_cast<char>(ch);
    if (ch == '\n' || ch == '\r') flush();
    return ch;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) overflow(traits_type::to_int_type(s[i]));
    return n;
  }
  int sync() override {
    flush();
    return 0;
  }

 private:
  void flush() {
    if (buf_.empty()) return;
    nb::gil_scoped_acquire gil;
    nb::object out = nb::module_::import_("sys").attr("stdout");
    out.attr("write")(buf_);
    out.attr("flush")();
    buf_.clear();
  }
  std::string buf_;
};

// Where fit prints: the process's stdout itself when Python's is that terminal (the live progress bar),
// else Python's sys.stdout.
struct Printer {
  PyStdout buf;
  std::ostream stream{&buf};
  std::ostream* out() {
    nb::module_ sys = nb::module_::import_("sys");
    nb::object so = sys.attr("stdout");
    const bool same = so.is(sys.attr("__stdout__"));
    return same && nb::cast<bool>(so.attr("isatty")()) ? &std::cout : &stream;
  }
};

// A Python callable as a loss (Keras's loss=fn(y_true, y_pred)): the mean of what it returns, traced into
// the compiled step like any Python code.
class PyLoss : public losses::Loss {
 public:
  explicit PyLoss(nb::object fn) : fn_(std::make_shared<nb::object>(std::move(fn))) {
    nb::object n = nb::getattr(*fn_, "__name__", nb::str("loss"));
    name_ = nb::cast<std::string>(nb::str(n));
  }
  ~PyLoss() override {
    if (!Py_IsInitialized()) return;
    nb::gil_scoped_acquire gil;
    fn_.reset();
  }
  std::string name() const override { return name_; }
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred) const override {
    Tensor v;
    {
      nb::gil_scoped_acquire gil;
      try {
        v = to_tensor((*fn_)(y_true, y_pred));
      } catch (nb::python_error& e) {
        rethrow_engine_error(e);
      }
    }
    return v.rank() == 0 ? v : mean(v);
  }

 private:
  std::shared_ptr<nb::object> fn_;
  std::string name_;
};

// A Python subclass of keras.callbacks.Callback: every event goes to its _duet_event dispatcher, which calls
// Keras's method for it (on_train_batch_end(batch, logs), ...).
class PyCallback : public Callback {
 public:
  NB_TRAMPOLINE(Callback);
  void on_train_begin(Model&) override { event("on_train_begin", -1, nullptr); }
  void on_train_end(Model&) override { event("on_train_end", -1, nullptr); }
  void on_epoch_begin(Model&, int epoch) override { event("on_epoch_begin", epoch, nullptr); }
  void on_epoch_end(Model&, int epoch, const Logs& logs) override { event("on_epoch_end", epoch, &logs); }
  void on_batch_begin(Model&, int batch) override { event("on_train_batch_begin", batch, nullptr); }
  void on_batch_end(Model&, int batch, const Logs& logs) override { event("on_train_batch_end", batch, &logs); }

 private:
  void event(const char* name, int index, const Logs* logs) {
    nb::gil_scoped_acquire gil;
    try {
      nb_trampoline.base().attr("_duet_event")(name, index, logs ? nb::cast(*logs) : nb::none());
    } catch (nb::python_error& e) {
      rethrow_engine_error(e);
    }
  }
};

// Ctrl-C during fit: Python's signal handler only sets a flag while fit runs without the GIL; this callback
// looks at it after every batch, stops training there (the step that ran is kept), and fit raises
// KeyboardInterrupt once it has returned.
class InterruptCheck : public Callback {
 public:
  bool interrupted = false;
  void on_batch_end(Model& m, int, const Logs&) override {
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      interrupted = true;
      m.stop_training = true;
    }
  }
};

OptimizerArg optimizer_arg(nb::handle h) {
  if (nb::isinstance<nb::str>(h)) return OptimizerArg(nb::cast<std::string>(h));
  if (nb::isinstance<optimizers::Optimizer>(h)) return OptimizerArg(nb::cast<optimizers::OptimizerPtr>(h));
  throw DTypeError("[compile] optimizer must be a name ('adam') or a duet.keras.optimizers object, got " +
                   nb::cast<std::string>(nb::str(h.type().attr("__name__"))));
}

LossArg loss_arg(nb::handle h) {
  if (nb::isinstance<nb::str>(h)) return LossArg(nb::cast<std::string>(h));
  if (nb::isinstance<losses::Loss>(h)) return LossArg(nb::cast<losses::LossPtr>(h));
  if (PyCallable_Check(h.ptr())) return LossArg(losses::LossPtr(std::make_shared<PyLoss>(nb::borrow(h))));
  throw DTypeError(
      "[compile] a loss must be a name ('mse'), a duet.keras.losses object or a function "
      "loss(y_true, y_pred), got " +
      nb::cast<std::string>(nb::str(h.type().attr("__name__"))));
}

MetricArg metric_arg(nb::handle h) {
  if (nb::isinstance<nb::str>(h)) return MetricArg(nb::cast<std::string>(h));
  if (nb::isinstance<metrics::Metric>(h)) return MetricArg(nb::cast<metrics::MetricPtr>(h));
  throw DTypeError("[compile] a metric must be a name ('accuracy') or a duet.keras.metrics object, got " +
                   nb::cast<std::string>(nb::str(h.type().attr("__name__"))));
}

using PyModel = PyLayerT<Model>;
using PySequential = PyLayerT<Sequential>;

}  // namespace

void bind_models(nb::module_& m) {
  // Made in place by duet.keras.Model: subclassed (name, type), or functional (inputs, outputs, name).
  nb::class_<Model, Layer, PyModel>(m, "Model")
      .def(nb::init<std::string, std::string>(), nb::arg("name"), nb::arg("type"))
      .def(
          "__init__",
          [](Model* self, std::vector<Tensor> inputs, std::vector<Tensor> outputs, const std::string& name) {
            auto* p = new (static_cast<void*>(self)) PyModel(inputs, outputs, name);
            p->python_overrides = false;
          },
          nb::arg("inputs"), nb::arg("outputs"), nb::arg("name"))
      .def("_compile",
           [](Model& model, nb::handle optimizer, std::vector<nb::object> loss, std::vector<double> loss_weights,
              std::vector<nb::object> metrics, bool run_eagerly) {
             CompileOptions o{.optimizer = optimizer_arg(optimizer)};
             if (loss.size() == 1) o.loss = loss_arg(loss[0]);
             if (loss.size() > 1)
               for (auto& l : loss) o.losses.push_back(loss_arg(l));
             o.loss_weights = std::move(loss_weights);
             for (auto& x : metrics) o.metrics.push_back(metric_arg(x));
             o.run_eagerly = run_eagerly;
             nb::gil_scoped_release release;
             model.compile(std::move(o));
           })
      .def("_fit",
           [](Model& model, std::vector<Tensor> x, std::vector<Tensor> y, int epochs, std::int64_t batch_size,
              bool shuffle, std::optional<std::vector<Tensor>> val_x, std::optional<std::vector<Tensor>> val_y,
              double validation_split, int verbose, std::vector<CallbackPtr> cbs, int initial_epoch,
              std::optional<std::uint64_t> seed) {
             Printer printer;
             auto interrupt = std::make_shared<InterruptCheck>();
             FitOptions o{.epochs = epochs, .batch_size = batch_size, .shuffle = shuffle};
             if (val_x) o.validation_data = ValidationData(*val_x, val_y.value_or(std::vector<Tensor>{}));
             o.validation_split = validation_split;
             o.verbose = verbose;
             o.callbacks = std::move(cbs);
             o.callbacks.push_back(interrupt);
             o.seed = seed;
             o.initial_epoch = initial_epoch;
             o.out = printer.out();
             History h;
             {
               nb::gil_scoped_release release;
               h = model.fit(x, y, o);
             }
             if (interrupt->interrupted) {
               PyErr_SetString(PyExc_KeyboardInterrupt, "fit stopped after the current step");
               throw nb::python_error();
             }
             return nb::make_tuple(h.history, h.epochs_run);
           })
      .def("_evaluate",
           [](Model& model, std::vector<Tensor> x, std::vector<Tensor> y, std::int64_t batch_size, int verbose) {
             Printer printer;
             EvaluateOptions o{.batch_size = batch_size, .verbose = verbose};
             o.out = printer.out();
             nb::gil_scoped_release release;
             return model.evaluate(x, y, o);
           })
      .def("_predict",
           [](Model& model, std::vector<Tensor> x, std::int64_t batch_size) {
             nb::gil_scoped_release release;
             return model.predict(x, {.batch_size = batch_size});
           })
      .def("save",
           [](Model& model, const std::string& path) {
             nb::gil_scoped_release release;
             model.save(path);
           })
      .def("save_weights",
           [](Model& model, const std::string& path) {
             nb::gil_scoped_release release;
             model.save_weights(path);
           })
      .def(
          "load_weights",
          [](Model& model, const std::string& path, bool by_name, bool skip_mismatch) {
            nb::gil_scoped_release release;
            model.load_weights(path, {.by_name = by_name, .skip_mismatch = skip_mismatch});
          },
          nb::arg("filepath"), nb::arg("by_name") = false, nb::arg("skip_mismatch") = false)
      .def("_summary", [](Model& model) { return model.summary_string(); })
      .def_prop_ro("layers",
                   [](const Model& model) {
                     std::vector<std::shared_ptr<Layer>> out;
                     for (const auto& l : model.layers()) out.push_back(l.ptr());
                     return out;
                   })
      .def_rw("stop_training", &Model::stop_training)
      .def_prop_ro("optimizer", &Model::optimizer)
      .def_prop_ro("compiled", &Model::compiled)
      .def_prop_ro("_num_inputs", &Model::num_inputs)
      .def_prop_ro("_num_outputs", &Model::num_outputs);

  nb::class_<Sequential, Model, PySequential>(m, "Sequential")
      .def(
          "__init__",
          [](Sequential* self, std::optional<Tensor> input, std::vector<std::shared_ptr<Layer>> layers,
             const std::string& name) {
            std::vector<LayerRef> refs(layers.begin(), layers.end());
            void* at = self;
            auto* p = input ? new (at) PySequential(*input, refs, name) : new (at) PySequential(refs, name);
            p->python_overrides = false;
          },
          nb::arg("input").none(), nb::arg("layers"), nb::arg("name"))
      .def("add", [](Sequential& s, std::shared_ptr<Layer> l) { s.add(LayerRef(std::move(l))); });

  m.def("_load_model", [](const std::string& path) {
    nb::gil_scoped_release release;
    return load_model(path);
  });

  // Optimizers, with their learning rate readable and settable between steps.
  nb::class_<optimizers::Optimizer>(m, "Optimizer")
      .def_prop_ro("name", &optimizers::Optimizer::name)
      .def_prop_rw(
          "learning_rate", [](const optimizers::Optimizer& o) { return o.learning_rate.get(); },
          [](optimizers::Optimizer& o, double v) { o.learning_rate = v; })
      .def_prop_ro("iterations", &optimizers::Optimizer::iterations)
      .def("apply_gradients", [](optimizers::Optimizer& o, nb::handle grads_and_vars) {
        std::vector<Variable> vars;
        std::vector<Tensor> grads;
        for (nb::handle gv : grads_and_vars) {
          nb::tuple t = nb::cast<nb::tuple>(gv);
          grads.push_back(t[0].is_none() ? Tensor() : to_tensor(t[0]));
          vars.push_back(nb::cast<Variable>(t[1]));
        }
        nb::gil_scoped_release release;
        o.apply_gradients(vars, grads);
      });
  nb::class_<optimizers::schedules::LearningRateSchedule>(m, "LearningRateSchedule")
      .def("__call__", [](const optimizers::schedules::LearningRateSchedule& s, nb::handle step) {
        return s(to_tensor(step, DType::Float32));
      });
  auto lr = [](nb::handle h) {
    if (nb::isinstance<optimizers::schedules::LearningRateSchedule>(h))
      return optimizers::LearningRate(nb::cast<optimizers::schedules::SchedulePtr>(h));
    return optimizers::LearningRate(nb::cast<double>(h));
  };
  m.def("_SGD", [lr](nb::handle rate, double momentum, bool nesterov) {
    return optimizers::SGD(lr(rate), momentum, nesterov);
  });
  m.def("_Adam",
        [lr](nb::handle rate, double b1, double b2, double eps) { return optimizers::Adam(lr(rate), b1, b2, eps); });
  m.def("_AdamW", [lr](nb::handle rate, double wd, double b1, double b2, double eps) {
    return optimizers::AdamW(lr(rate), wd, b1, b2, eps);
  });
  m.def("_RMSprop", [lr](nb::handle rate, double rho, double momentum, double eps) {
    return optimizers::RMSprop(lr(rate), rho, momentum, eps);
  });
  m.def("_ExponentialDecay", &optimizers::schedules::ExponentialDecay);
  m.def("_PiecewiseConstantDecay", &optimizers::schedules::PiecewiseConstantDecay);
  m.def("_CosineDecay", &optimizers::schedules::CosineDecay);

  // Losses (callable: loss(y_true, y_pred) is the batch mean) and metrics (Keras's streaming state).
  nb::class_<losses::Loss>(m, "Loss")
      .def_prop_ro("name", &losses::Loss::name)
      .def("__call__", [](const losses::Loss& l, nb::handle y_true, nb::handle y_pred) {
        Tensor p = to_tensor(y_pred);
        Tensor t = to_tensor(y_true);
        nb::gil_scoped_release release;
        return l(t, p);
      });
  m.def("_loss", [](const std::string& name, bool from_logits) {
    if (name == "binary_crossentropy") return losses::BinaryCrossentropy(from_logits);
    if (name == "categorical_crossentropy") return losses::CategoricalCrossentropy(from_logits);
    if (name == "sparse_categorical_crossentropy") return losses::SparseCategoricalCrossentropy(from_logits);
    return losses::get(name);
  });
  nb::class_<metrics::Metric>(m, "Metric")
      .def_prop_ro("name", &metrics::Metric::name)
      .def("update_state",
           [](metrics::Metric& mt, nb::handle y_true, nb::handle y_pred) {
             Tensor t = to_tensor(y_true);
             Tensor p = to_tensor(y_pred);
             nb::gil_scoped_release release;
             mt.update_state(t, p);
           })
      .def("result", &metrics::Metric::result)
      .def("reset_state", &metrics::Metric::reset_state)
      .def_prop_ro("variables", &metrics::Metric::variables);
  m.def("_metric", [](const std::string& name, double threshold) {
    if (name == "binary_accuracy") return metrics::BinaryAccuracy(threshold);
    return metrics::get(name);
  });
  m.def("_mean_metric", &metrics::Mean);

  // Callbacks: subclassed in Python, or the engine's own.
  nb::class_<Callback, PyCallback>(m, "Callback").def(nb::init<>());
  m.def("_EarlyStopping", [](std::string monitor, double min_delta, int patience, std::string mode, bool restore) {
    return callbacks::EarlyStopping({.monitor = std::move(monitor),
                                     .min_delta = min_delta,
                                     .patience = patience,
                                     .mode = std::move(mode),
                                     .restore_best_weights = restore});
  });
  m.def("_ReduceLROnPlateau", [](std::string monitor, double factor, int patience, double min_delta, int cooldown,
                                 double min_lr, std::string mode) {
    return callbacks::ReduceLROnPlateau({.monitor = std::move(monitor),
                                         .factor = factor,
                                         .patience = patience,
                                         .min_delta = min_delta,
                                         .cooldown = cooldown,
                                         .min_lr = min_lr,
                                         .mode = std::move(mode)});
  });
  m.def("_TerminateOnNaN", &callbacks::TerminateOnNaN);
  m.def("_BackupAndRestore", [](std::string dir, std::int64_t save_freq, bool delete_checkpoint) {
    return callbacks::BackupAndRestore(std::move(dir),
                                       {.save_freq = save_freq, .delete_checkpoint = delete_checkpoint});
  });
}

}  // namespace duet::python
