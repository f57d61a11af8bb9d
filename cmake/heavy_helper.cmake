# berth-heavy: the helper program with the code that needs libarchive, libseccomp or libcrypto
# (layer hashing). berth runs it on the paths that need that code (image import, a seccomp cache
# miss), so that berth itself links none of them and can be a static executable
# (docs/startup.md). Included from CMakeLists.txt after berth_module(image ...) and
# berth_module(seccomp ...).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
file(GLOB berth_heavy_srcs CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/src/heavy/*.cpp ${PROJECT_SOURCE_DIR}/src/image/heavy/*.cpp
     ${PROJECT_SOURCE_DIR}/src/seccomp/heavy/*.cpp)
add_executable(berth-heavy ${berth_heavy_srcs})
target_include_directories(berth-heavy PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(berth-heavy PRIVATE berth_image berth_seccomp berth_util
                      PkgConfig::LIBARCHIVE PkgConfig::LIBSECCOMP OpenSSL::Crypto)
