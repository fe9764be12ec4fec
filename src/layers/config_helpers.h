#pragma once
// The helpers every layer family's config factory uses (defined in layer_config.cpp): a config's base (class and
// name), optional arguments that keep the options' defaults, Keras arguments duet takes at one value only, and
// initializers saved by name.
#include <cctype>
#include <initializer_list>
#include <string>
#include <vector>

#include "duet/layers.h"

namespace duet::layer_config {

// Keras's string arguments are case-insensitive ("SAME", "Bilinear").
inline std::string lowercase(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

LayerConfig base(const Layer& l);
std::string name_of(const LayerConfig& c);
void set_initializer(LayerConfig& c, const std::string& key, const Initializer& init);
Initializer get_initializer(const LayerConfig& c, const std::string& key, const char* fallback);

// Optional arguments: read when the config has them, else the options struct's default stays (the one place
// each default is written).
void opt(const LayerConfig& c, const char* k, std::string& f);
void opt(const LayerConfig& c, const char* k, bool& f);
void opt(const LayerConfig& c, const char* k, std::int64_t& f);
void opt(const LayerConfig& c, const char* k, double& f);
void opt(const LayerConfig& c, const char* k, std::vector<std::int64_t>& f, std::size_t rank);
void opt(const LayerConfig& c, const char* k, Initializer& f);
// Keras arguments duet takes only at one value (data_format="channels_last"): any other value is refused,
// saying why, rather than silently ignored.
void only(const LayerConfig& c, const char* k, const ConfigValue& allowed, const char* why);
// Keras arguments duet does not have yet (regularizers, constraints): given at all, they are refused.
void unsupported(const LayerConfig& c, std::initializer_list<const char*> keys, const char* why);
extern const char* const kNoRegularizers;
// Refuses every regularizer and constraint argument Keras's layers take (kNoRegularizers says why).
void no_regularizers(const LayerConfig& c);
// Why data_format="channels_first" is refused.
extern const char* const kNhwc;

}  // namespace duet::layer_config
