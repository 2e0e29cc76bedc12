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
                       "chassis/*", "protocols/*", "tools/*", "bench/*", "tests/*",
                       "packaging/*")

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
        # The same install tree as `cmake --install` (include/kam/..., the
        # static libraries, kam-serve, lib/cmake/kamaelia_caf).
        CMake(self).install()

    def package_info(self):
        # The targets find_package(kamaelia_caf CONFIG) gives, as Conan components.
        self.cpp_info.set_property("cmake_file_name", "kamaelia_caf")
        self.cpp_info.includedirs = ["include/kam"]
        asio = self.cpp_info.components["asio"]
        asio.set_property("cmake_target_name", "kam::asio")
        asio.libs = ["kam_asio"]
        asio.defines = ["BOOST_ASIO_SEPARATE_COMPILATION", "BOOST_ASIO_NO_DEPRECATED"]
        asio.requires = ["boost::headers"]
        asio.system_libs = ["pthread"]
        runtime = self.cpp_info.components["runtime"]
        runtime.set_property("cmake_target_name", "kam::runtime")
        runtime.libs = ["kam_runtime"]
        runtime.requires = ["asio", "caf::caf_core"]  # CAF::core in conan-center's caf recipe
        chassis = self.cpp_info.components["chassis"]
        chassis.set_property("cmake_target_name", "kam::chassis")
        chassis.libs = ["kam_chassis"]
        chassis.requires = ["runtime"]
        protocols = self.cpp_info.components["protocols"]
        protocols.set_property("cmake_target_name", "kam::protocols")
        protocols.libs = ["kam_protocols"]
        protocols.requires = ["chassis"]
        testing = self.cpp_info.components["testing"]
        testing.set_property("cmake_target_name", "kam::testing")
        testing.libs = ["kam_testing"]
        testing.requires = ["runtime"]
