# berth-heavy.so: the code that needs libarchive, libseccomp or libcrypto (layer hashing), dlopened by the image and seccomp
# modules on first use so that `berth` itself links neither (docs/startup.md). Included from
# CMakeLists.txt after berth_module(image ...) and berth_module(seccomp ...).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
file(GLOB berth_heavy_srcs CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/src/image/heavy/*.cpp ${PROJECT_SOURCE_DIR}/src/seccomp/heavy/*.cpp)
add_library(berth_heavy MODULE ${berth_heavy_srcs})
set_target_properties(berth_heavy PROPERTIES
  PREFIX "" OUTPUT_NAME berth-heavy SUFFIX ".so"
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}  # next to berth-supervisor: paths::libexec_dir()
  CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
target_include_directories(berth_heavy PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(berth_heavy PRIVATE berth_image berth_seccomp berth_util
                      PkgConfig::LIBARCHIVE PkgConfig::LIBSECCOMP OpenSSL::Crypto)
# Only berth_heavy_api_v1 is exported; the module's own copies of util/image code bind to
# themselves, never to same-named symbols elsewhere in the process.
target_link_options(berth_heavy PRIVATE -Wl,--exclude-libs,ALL -Wl,-Bsymbolic -Wl,-z,defs)
set_target_properties(berth_util berth_image berth_seccomp PROPERTIES POSITION_INDEPENDENT_CODE ON)
