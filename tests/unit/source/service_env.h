// tests/unit/source/service_env.h
//
// The in-cluster service variables (KUBERNETES_SERVICE_HOST/_PORT, under
// test names) for the Kubernetes client tests.
//
//   SetServiceEnv("BALLAST_TEST_KC", "10.96.0.1", "443");  // _HOST, _PORT
//   SetServiceEnv("BALLAST_TEST_KC", nullptr, nullptr);    // unsets both
//   auto paths = InClusterOptions<InClusterPaths>("BALLAST_TEST_KC",
//   "/t/token",
//                                                 "/t/ca.crt");
#ifndef BALLAST_TESTS_UNIT_SOURCE_SERVICE_ENV_H_
#define BALLAST_TESTS_UNIT_SOURCE_SERVICE_ENV_H_

#include <cstdlib>
#include <string>

namespace ballast::source {

// Sets PREFIX_HOST and PREFIX_PORT; a nullptr unsets the variable.
inline void SetServiceEnv(const std::string& prefix, const char* host,
                          const char* port) {
  for (const auto& [name, value] :
       {std::pair{prefix + "_HOST", host}, std::pair{prefix + "_PORT", port}}) {
    if (value == nullptr) {
      unsetenv(name.c_str());
    } else {
      setenv(name.c_str(), value, 1);
    }
  }
}

// In-cluster options (InClusterPaths or KubernetesScaleOptions) that read
// the service from PREFIX_HOST and PREFIX_PORT, with `token_file` and
// `ca_file`.
template <class Options>
Options InClusterOptions(const std::string& prefix,
                         const std::string& token_file,
                         const std::string& ca_file) {
  Options options;
  options.host_env = prefix + "_HOST";
  options.port_env = prefix + "_PORT";
  options.token_file = token_file;
  options.ca_file = ca_file;
  return options;
}

}  // namespace ballast::source

#endif  // BALLAST_TESTS_UNIT_SOURCE_SERVICE_ENV_H_
