// exec: this process becomes another program, as a shell's `exec` does (Node has no execve before 23.11).
//   execvp(file, argv, env) → { errno, message }; returns only when the program could not be started
// Before execvpe(3): fds 0-2 are made blocking again (Node makes a stdio pipe non-blocking as soon as anything
// touches process.stdout or stderr, even while modules load, and only undoes it at its own exit; a program
// handed a non-blocking stdin or stdout fails with EAGAIN), every signal goes back to its default
// (Node ignores SIGPIPE, and ignored signals survive exec) and none stays blocked. Node marks every fd it
// finds at start close-on-exec, stdio included: stdio is made inheritable again, the rest stays closed (as
// with child_process.spawn, which this replaces).
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "registry.h"

namespace {

std::vector<std::string> strings(const Napi::Array& a) {
  std::vector<std::string> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

Napi::Value Execvp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsArray() || !info[2].IsArray()) {
    Napi::TypeError::New(env, "execvp(file: string, argv: string[], env: string[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string file = info[0].As<Napi::String>().Utf8Value();
  auto argv = strings(info[1].As<Napi::Array>());
  auto envv = strings(info[2].As<Napi::Array>());
  auto argp = pointers(argv);
  auto envp = pointers(envv);

  for (int fd = 0; fd < 3; fd++) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) continue;
    if (fl & O_NONBLOCK) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) & ~FD_CLOEXEC);
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  std::vector<struct sigaction> old(NSIG);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, &old[sig]);
  }
  sigset_t none, oldMask;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &oldMask);

  execvpe(file.c_str(), argp.data(), envp.data());
  // Not started: Node's own dispositions and mask back, for the error message and exit that follow.
  int e = errno;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &old[sig], nullptr);
  }
  pthread_sigmask(SIG_SETMASK, &oldMask, nullptr);
  auto out = Napi::Object::New(env);
  out.Set("errno", Napi::Number::New(env, e));
  out.Set("message", Napi::String::New(env, strerror(e)));
  return out;
}

netcon::Registrar reg("exec", [](Napi::Env env, Napi::Object exports) {
  exports.Set("execvp", Napi::Function::New(env, Execvp, "execvp"));
});

}  // namespace
