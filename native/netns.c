/*
 * weft's one native call: run a JavaScript function with the calling thread inside another
 * network namespace, and put the thread back before returning.
 *
 * Why: a netlink socket belongs to the network namespace of the thread that creates it, and Node
 * has no setns(2). With this, weftd creates an rtnetlink socket inside a container's namespace
 * (the function passed in is `() => createRtNetlink()`: one socket(2) call), and then configures
 * addresses and routes in there over that socket from its own namespace, with no process spawned
 * (src/sys/netlink/netns-socket.ts).
 *
 * setns(CLONE_NEWNET) changes only the calling thread. The thread is in the other namespace for
 * the duration of the function, during which no other JavaScript runs on it (the call is
 * synchronous); libuv's pool threads are other threads and never move. If the thread cannot go
 * back, the process aborts: a daemon whose main thread lives in a container's namespace would
 * corrupt every later call, and a crash is repaired by the reconciler.
 *
 * Built by scripts/build-native.mjs into dist/native/netns.node (optional: without a C compiler
 * or Node's headers weft uses `ip -n`/`nsenter` instead).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, "ENETNS", msg);
  return NULL;
}

/* withNetns(fd: number, fn: () => T): T */
static napi_value with_netns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    napi_throw_type_error(env, NULL, "withNetns(fd, fn) takes two arguments");
    return NULL;
  }
  int32_t fd;
  napi_valuetype fnType;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || napi_typeof(env, argv[1], &fnType) != napi_ok || fnType != napi_function) {
    napi_throw_type_error(env, NULL, "withNetns(fd, fn): fd must be a descriptor, fn a function");
    return NULL;
  }
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return throw_errno(env, "open /proc/thread-self/ns/net", errno);
  if (setns(fd, CLONE_NEWNET) != 0) {
    int err = errno;
    close(home);
    return throw_errno(env, "setns into the target network namespace", err);
  }
  napi_value global, result = NULL;
  napi_status st = napi_get_global(env, &global);
  if (st == napi_ok) st = napi_call_function(env, global, argv[1], 0, NULL, &result);
  if (setns(home, CLONE_NEWNET) != 0) {
    fprintf(stderr, "weft native: cannot return to the daemon's network namespace (%s): aborting\n", strerror(errno));
    abort();
  }
  close(home);
  /* A throw inside fn is pending in env and propagates to the caller. */
  return st == napi_ok ? result : NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "withNetns", NAPI_AUTO_LENGTH, with_netns, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "withNetns", fn) != napi_ok) return NULL;
  return exports;
}
