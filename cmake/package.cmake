# Debian packages with CPack: `cpack -G DEB --config build/CPackConfig.cmake`
# (scripts/package.sh) makes
#   libkamaelia-caf-dev  headers, static libraries, the CMake package (component dev)
#   kam-serve            the server, its systemd unit, /etc config, man page (component server)
set(CPACK_PACKAGE_NAME kamaelia-caf)
set(CPACK_PACKAGE_VENDOR "kamaelia-caf")
set(CPACK_PACKAGE_CONTACT "kamaelia-caf maintainers <maintainers@kamaelia-caf.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Kamaelia's ConnectedServer chassis on CAF actors and Boost.Asio")
set(CPACK_GENERATOR DEB)
set(CPACK_COMPONENTS_ALL dev server)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libkamaelia-caf-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libcaf-dev (>= 0.17.6), libboost-dev (>= 1.74)")
set(CPACK_DEBIAN_DEV_DESCRIPTION
"Kamaelia's ConnectedServer chassis for C++ (development files)
 kamaelia-caf rebuilds Kamaelia's server chassis in C++17: a protocol handler
 is a component (a CAF actor with inboxes and outboxes); for every client the
 chassis makes one and wires it to a socket adapter. This package holds the
 headers, the static libraries and the CMake package
 (find_package(kamaelia_caf CONFIG)).")

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME kam-serve)
set(CPACK_DEBIAN_SERVER_DESCRIPTION
"protocol server built on the kamaelia-caf chassis
 kam-serve serves one protocol (echo, line protocols and more) with the
 kamaelia-caf chassis: one CAF actor per connection on Boost.Asio I/O
 threads. It ships a hardened systemd unit and a configuration file in
 /etc/kam-serve.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/conffiles)

# Debian policy: every package carries its copyright and a changelog.
set(_changelog ${CMAKE_CURRENT_BINARY_DIR}/changelog.gz)
add_custom_command(OUTPUT ${_changelog}
  COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/packaging/changelog > ${_changelog}
  DEPENDS ${PROJECT_SOURCE_DIR}/packaging/changelog VERBATIM)
add_custom_target(kam-changelog ALL DEPENDS ${_changelog})
foreach(_pkg_comp dev:libkamaelia-caf-dev server:kam-serve)
  string(REPLACE ":" ";" _pair ${_pkg_comp})
  list(GET _pair 0 _comp)
  list(GET _pair 1 _pkg)
  install(FILES packaging/copyright ${_changelog}
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_pkg} COMPONENT ${_comp})
endforeach()

include(CPack)
