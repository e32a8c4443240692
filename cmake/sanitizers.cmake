if(BALLAST_SANITIZE AND BALLAST_TSAN)
  message(FATAL_ERROR "BALLAST_SANITIZE (ASan) and BALLAST_TSAN cannot be combined")
endif()
if(BALLAST_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
# ThreadSanitizer (scripts/test builds only the threaded tests with it). The
# Debian libraries (absl, gRPC, OpenSSL, Boost's compiled parts) are not
# instrumented: tsan.supp names the reports that come from inside them.
if(BALLAST_TSAN)
  # -Wno-tsan: GCC warns that TSan does not model std::atomic_thread_fence,
  # which Boost.Asio's handler invocation (std_fenced_block) uses; Asio's
  # scheduler hands handlers over under a pthread mutex, which TSan does see.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
endif()
