// The native half of the duet Python package (python/duet imports it as duet._duet).
#include "bindings.h"

NB_MODULE(_duet, m) {
  m.doc() = "duet's engine (use the duet package, not this module)";
  // The module keeps a few Python objects for the life of the process on purpose (the dtype objects,
  // TensorShape, the indexing helpers): nanobind's exit-time leak report would only list those.
  nb::set_leak_warnings(false);
  duet::python::bind_errors(m);
  duet::python::bind_tensor(m);
  duet::python::bind_api(m);
  duet::python::bind_autodiff(m);
  duet::python::bind_function(m);
  duet::python::bind_layers(m);
  duet::python::bind_models(m);
}
