# Install rules and the CMake package: `cmake --install build --prefix P`
# gives P/include/kam/{runtime,chassis,protocols}/..., the static libraries,
# bin/kam-serve and lib/cmake/kamaelia_caf/, so that
#   find_package(kamaelia_caf CONFIG REQUIRED [COMPONENTS runtime chassis protocols testing])
# yields kam::runtime, kam::chassis, kam::protocols, kam::testing (plus
# kam::asio, Boost.Asio's compiled part). Debian's libcaf-dev ships no CMake
# package, so our FindCAF.cmake is installed with it. Install components:
# `dev` (headers, libraries, CMake package) and `server` (kam-serve, its
# systemd unit, config and man page), one Debian package each (cmake/package.cmake).
include(CMakePackageConfigHelpers)

set(KAM_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/kamaelia_caf)

set_target_properties(kam_asio PROPERTIES EXPORT_NAME asio)
set_target_properties(kam_runtime PROPERTIES EXPORT_NAME runtime)
set_target_properties(kam_chassis PROPERTIES EXPORT_NAME chassis)
set_target_properties(kam_protocols PROPERTIES EXPORT_NAME protocols)
set_target_properties(kam_testing PROPERTIES EXPORT_NAME testing)
set_target_properties(kam_tls PROPERTIES EXPORT_NAME tls)
set_target_properties(kam_transport PROPERTIES EXPORT_NAME transport)
set_target_properties(kam_node PROPERTIES EXPORT_NAME node)

install(TARGETS kam_asio kam_tls kam_transport kam_runtime kam_node kam_chassis kam_protocols kam_testing
        EXPORT kamaelia_caf_targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY runtime chassis protocols
        DESTINATION ${KAM_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.hpp")
install(EXPORT kamaelia_caf_targets NAMESPACE kam:: DESTINATION ${KAM_CMAKEDIR}
        FILE kamaelia_caf-targets.cmake COMPONENT dev)
configure_package_config_file(cmake/kamaelia_caf-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/kamaelia_caf-config.cmake INSTALL_DESTINATION ${KAM_CMAKEDIR})
# 0.x: a minor release may change the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/kamaelia_caf-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kamaelia_caf-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/kamaelia_caf-config-version.cmake
              cmake/FindCAF.cmake
        DESTINATION ${KAM_CMAKEDIR} COMPONENT dev)

install(TARGETS kam-serve RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
# A /usr install (the Debian package) puts the config in /etc and the unit in
# /lib/systemd/system (Debian 12); a /usr/local one keeps both under the prefix.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(KAM_UNITDIR /lib/systemd/system)
else()
  set(KAM_UNITDIR ${CMAKE_INSTALL_LIBDIR}/systemd/system)
endif()
set(KAM_CONFIG_FILE ${CMAKE_INSTALL_FULL_SYSCONFDIR}/kam-serve/kam-serve.conf)
configure_file(packaging/kam-serve.service.in ${CMAKE_CURRENT_BINARY_DIR}/kam-serve.service @ONLY)
install(FILES packaging/kam-serve.conf DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/kam-serve
        COMPONENT server)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/kam-serve.service DESTINATION ${KAM_UNITDIR}
        COMPONENT server)

# The man page is kam-serve's --help (CAF prints it on stderr), so it never
# disagrees with the options.
find_program(HELP2MAN_PROGRAM help2man)
if(HELP2MAN_PROGRAM)
  set(_man ${CMAKE_CURRENT_BINARY_DIR}/kam-serve.1)
  add_custom_command(OUTPUT ${_man}.gz
    COMMAND ${HELP2MAN_PROGRAM} --no-info --no-discard-stderr
            --version-string=${PROJECT_VERSION}
            --name=serve\ a\ protocol\ with\ the\ kamaelia-caf\ chassis
            --include=${PROJECT_SOURCE_DIR}/packaging/kam-serve.h2m
            --output=${_man} $<TARGET_FILE:kam-serve>
    COMMAND gzip -9nf ${_man}
    DEPENDS kam-serve ${PROJECT_SOURCE_DIR}/packaging/kam-serve.h2m VERBATIM)
  add_custom_target(kam-serve-man ALL DEPENDS ${_man}.gz)
  install(FILES ${_man}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)
else()
  message(STATUS "help2man not found: no man page for kam-serve (scripts/bootstrap.sh installs it)")
endif()
