# The libraries duet links (PRIVATE: a consumer of the shared library needs none of them to build).
# oneDNN is found from its header and library rather than through Debian's dnnl-config.cmake: that config
# also requires the OpenCL development files (a recommendation of libdnnl-dev that a minimal install skips),
# though duet uses only oneDNN's CPU engine.
include_guard(GLOBAL)
find_package(OpenMP REQUIRED)
find_package(ZLIB REQUIRED)
# Data-parallel training across processes (duet::distributed): Debian's OpenMPI (libopenmpi-dev). A program
# not started by mpirun never initializes it.
# Only the C API (no deprecated C++ bindings), through the C++ compiler.
set(MPI_CXX_SKIP_MPICXX ON)
find_package(MPI REQUIRED COMPONENTS CXX)
# Header-only; used inside the library only (file headers, model configs).
find_package(nlohmann_json 3.2 REQUIRED)

if(NOT TARGET DNNL::dnnl)
  find_path(DUET_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
  find_library(DUET_DNNL_LIBRARY NAMES dnnl)
  if(NOT DUET_DNNL_INCLUDE_DIR OR NOT DUET_DNNL_LIBRARY)
    message(FATAL_ERROR "duet needs oneDNN (header oneapi/dnnl/dnnl.hpp and library libdnnl): "
                        "run scripts/install-deps.sh, or apt-get install libdnnl-dev")
  endif()
  file(STRINGS "${DUET_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _duet_dnnl_major
       REGEX "^#define DNNL_VERSION_MAJOR [0-9]+")
  string(REGEX REPLACE "[^0-9]" "" _duet_dnnl_major "${_duet_dnnl_major}")
  if(_duet_dnnl_major LESS 2)
    message(FATAL_ERROR "duet needs oneDNN 2.x or newer; found major version ${_duet_dnnl_major}")
  endif()
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${DUET_DNNL_LIBRARY}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${DUET_DNNL_INCLUDE_DIR}")
endif()
