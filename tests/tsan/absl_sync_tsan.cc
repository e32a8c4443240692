// Linked into the test binaries of a BALLAST_TSAN build only.
//
// Debian's libabsl is not built with ThreadSanitizer, so TSan never sees
// absl::Mutex or absl::Notification synchronize: their atomics and futex
// waits live in the uninstrumented libabsl_synchronization.so. Every field
// ballast guards with an absl::Mutex would then be reported as a race in
// ballast's own frames, which no suppression may hide. Instead, this file
// interposes the library's entry points that ballast calls (the
// executable's definitions win over the shared library's), calls the real
// function found with dlsym(RTLD_NEXT) and tells TSan about the
// happens-before edge it creates: __tsan_release before a lock is given
// up, __tsan_acquire once it is held. An instrumented absl does the same
// with its own annotations.
//
// Limits: reader and writer locks give the same edges, so TSan does not
// catch a write made under a reader lock; Condition-based waits (Await,
// LockWhen, CondVar) are not interposed because ballast does not call
// them; add them here if it starts to.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

#define BALLAST_STR2(x) #x
#define BALLAST_STR(x) BALLAST_STR2(x)

// The real definition of absl::<name> (mangled suffix, e.g.
// "5Mutex4LockEv"), `konst` for a const member function.
template <typename Fn>
Fn Real(const char* suffix, bool konst = false) {
  const std::string ns = BALLAST_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = std::string(konst ? "_ZNK" : "_ZN") + "4absl" +
                           std::to_string(ns.size()) + ns + suffix;
  void* sym = dlsym(RTLD_NEXT, name.c_str());
  if (sym == nullptr) {
    std::fprintf(stderr, "absl_sync_tsan: no %s in the loaded libraries\n",
                 name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(sym);
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Notification::Notify() {
  static auto real = Real<void (*)(Notification*)>("12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  static auto real = Real<void (*)(const Notification*)>(
      "12Notification19WaitForNotificationEv", /*konst=*/true);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static auto real = Real<bool (*)(const Notification*, Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE",
      /*konst=*/true);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  static auto real = Real<bool (*)(const Notification*, Time)>(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE",
      /*konst=*/true);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
