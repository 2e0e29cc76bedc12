# Conan 2 recipe declaring kamaelia-caf's dependencies for users outside Debian.
# On Debian 12, scripts/bootstrap.sh installs the same from apt instead.
from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout


class KamaeliaCafConan(ConanFile):
    name = "kamaelia-caf"
    version = "0.1.0"
    license = "Apache-2.0"
    description = "Kamaelia's ConnectedServer chassis on CAF actors and Boost.Asio"
    settings = "os", "compiler", "build_type", "arch"
    exports_sources = ("CMakeLists.txt", "CMakePresets.json", "cmake/*", "runtime/*",
                       "chassis/*", "protocols/*", "tools/*", "bench/*", "tests/*")

    def requirements(self):
        self.requires("caf/0.17.6")
        self.requires("boost/1.74.0", options={"header_only": True})
        self.requires("nlohmann_json/3.11.2")
        self.requires("fmt/9.1.0")

    def build_requirements(self):
        self.test_requires("doctest/2.4.9")
        self.test_requires("benchmark/1.7.1")

    def layout(self):
        cmake_layout(self)

    def generate(self):
        CMakeDeps(self).generate()
        CMakeToolchain(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        CMake(self).install()
