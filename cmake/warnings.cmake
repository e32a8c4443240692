function(ballast_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                         -Wnon-virtual-dtor -Wcast-align -Wunused
                         -Woverloaded-virtual -Wimplicit-fallthrough
                         # Designated initializers that omit defaulted fields
                         # are idiomatic C++20.
                         -Wno-missing-field-initializers)
  if(BALLAST_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
