// Surface "attr": configfs and sysfs attributes and directories.
//
// configfs acts on the first write(2) of an attribute and rejects partial stores, so a write is
// always one write(2) of exactly the bytes given; a short write is reported, never retried.
// A batch runs many operations in one native call (synchronously, or on a worker thread) and
// stops at the first failure, reporting which step failed.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"
#include "fake_tree.h"

namespace {

enum class OpKind { Mkdir, Rmdir, Write, Read, WriteFd };

struct Op {
  OpKind kind;
  std::string path;
  std::string data;    // Write: the exact bytes
  std::string device;  // WriteFd: block device opened O_RDWR, its fd number written to path
  mode_t mode = 0755;
  bool missingOk = false;  // Read: a missing attribute reads as undefined instead of failing
  bool attribute = false;  // Read: a configfs/sysfs attribute (one read(2) returns it whole)
};

struct Failure {
  int err = 0;
  const char* syscall = "";
  std::string path;
  size_t step = 0;
};

struct Options {
  // Fake-tree mode, for a plain directory standing in for configfs: create missing parents and
  // attribute files. Never used against a real configfs (where O_CREAT would mask ENOENT).
  bool createMissing = false;
};

// One exact write(2). Returns 0 or fills f.
bool ExactWrite(const std::string& path, const char* buf, size_t len, const Options& o, Failure* f) {
  int fd = o.createMissing ? o2s::FakeTreeOpenForWrite(path) : open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    *f = {errno, "open", path, 0};
    return false;
  }
  ssize_t n;
  do {
    n = write(fd, buf, len);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    *f = {errno, "write", path, 0};
    close(fd);
    return false;
  }
  if (static_cast<size_t>(n) != len) {
    // The kernel took part of the store: report it rather than write the rest (configfs would
    // treat the rest as a new store).
    *f = {EIO, "write", path, 0};
    close(fd);
    return false;
  }
  if (close(fd) != 0 && errno != EINTR) {
    *f = {errno, "close", path, 0};
    return false;
  }
  return true;
}

bool RunOne(const Op& op, const Options& o, std::string* readOut, Failure* f, bool* missing) {
  switch (op.kind) {
    case OpKind::Mkdir: {
      int r = mkdir(op.path.c_str(), op.mode);
      if (r != 0 && o.createMissing && errno == ENOENT) r = o2s::FakeTreeMkdirP(op.path, op.mode) == 0 ? 0 : -1;
      if (r != 0) {
        *f = {errno, "mkdir", op.path, 0};
        return false;
      }
      return true;
    }
    case OpKind::Rmdir: {
      int r = rmdir(op.path.c_str());
      if (r != 0 && errno == ENOTEMPTY && o.createMissing) r = o2s::FakeConfigfsRmdir(op.path);
      if (r != 0) {
        *f = {errno, "rmdir", op.path, 0};
        return false;
      }
      return true;
    }
    case OpKind::Write:
      return ExactWrite(op.path, op.data.data(), op.data.size(), o, f);
    case OpKind::Read: {
      int e = o2s::ReadWhole(op.path, readOut, 1 << 20, op.attribute);
      if ((e == ENOENT || e == ENOTDIR) && op.missingOk) {
        *missing = true;
        return true;
      }
      if (e != 0) {
        *f = {e, "read", op.path, 0};
        return false;
      }
      return true;
    }
    case OpKind::WriteFd: {
      // o2hb "dev": the kernel takes the fd number of a block device open in this process,
      // then holds its own reference, so we close ours afterwards.
      int dfd = open(op.device.c_str(), O_RDWR | O_CLOEXEC);
      if (dfd < 0) {
        *f = {errno, "open", op.device, 0};
        return false;
      }
      std::string num = std::to_string(dfd);
      bool ok = ExactWrite(op.path, num.data(), num.size(), o, f);
      close(dfd);
      return ok;
    }
  }
  return false;
}

struct BatchResult {
  size_t completed = 0;
  std::vector<std::string> reads;  // one slot per op (empty for non-reads)
  std::vector<char> missing;       // Read with missingOk that found nothing
  bool failed = false;
  Failure failure;
};

void RunBatch(const std::vector<Op>& ops, const Options& o, BatchResult* r) {
  r->reads.assign(ops.size(), std::string());
  r->missing.assign(ops.size(), 0);
  for (size_t i = 0; i < ops.size(); i++) {
    Failure f;
    bool missing = false;
    bool ok = RunOne(ops[i], o, &r->reads[i], &f, &missing);
    r->missing[i] = missing ? 1 : 0;
    if (!ok) {
      f.step = i;
      r->failed = true;
      r->failure = f;
      return;
    }
    r->completed = i + 1;
  }
}

std::string StringArg(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Op ParseOp(Napi::Env env, const Napi::Value& v, uint32_t index) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "batch step " + std::to_string(index) + " is not an object");
  Napi::Object obj = v.As<Napi::Object>();
  std::string kind = StringArg(obj.Get("op"), "op");
  Op op;
  op.path = StringArg(obj.Get("path"), "path");
  if (kind == "mkdir") {
    op.kind = OpKind::Mkdir;
    Napi::Value m = obj.Get("mode");
    if (m.IsNumber()) op.mode = static_cast<mode_t>(m.As<Napi::Number>().Uint32Value());
  } else if (kind == "rmdir") {
    op.kind = OpKind::Rmdir;
  } else if (kind == "write") {
    op.kind = OpKind::Write;
    op.data = o2s::BytesArg(obj.Get("data"), "data");
  } else if (kind == "read") {
    op.kind = OpKind::Read;
    Napi::Value m = obj.Get("missingOk");
    op.missingOk = m.IsBoolean() && m.As<Napi::Boolean>().Value();
    Napi::Value a = obj.Get("attribute");
    op.attribute = a.IsBoolean() && a.As<Napi::Boolean>().Value();
  } else if (kind == "writefd") {
    op.kind = OpKind::WriteFd;
    op.device = StringArg(obj.Get("device"), "device");
  } else {
    throw Napi::TypeError::New(env, "batch step " + std::to_string(index) + ": unknown op '" + kind + "'");
  }
  return op;
}

std::vector<Op> ParseOps(Napi::Env env, const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(env, "operations must be an array");
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<Op> ops;
  ops.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) ops.push_back(ParseOp(env, arr.Get(i), i));
  return ops;
}

Options ParseOptions(const Napi::CallbackInfo& info, size_t idx) {
  Options o;
  if (info.Length() > idx && info[idx].IsObject()) {
    Napi::Value c = info[idx].As<Napi::Object>().Get("createMissing");
    o.createMissing = c.IsBoolean() && c.As<Napi::Boolean>().Value();
  }
  return o;
}

Napi::Error FailureError(Napi::Env env, const std::vector<Op>& ops, const BatchResult& r) {
  Napi::Error e = o2s::ErrnoError(env, r.failure.err, r.failure.syscall, r.failure.path);
  e.Set("step", Napi::Number::New(env, static_cast<double>(r.failure.step)));
  e.Set("completed", Napi::Number::New(env, static_cast<double>(r.completed)));
  (void)ops;
  return e;
}

Napi::Object ResultObject(Napi::Env env, const std::vector<Op>& ops, const BatchResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("completed", Napi::Number::New(env, static_cast<double>(r.completed)));
  Napi::Array reads = Napi::Array::New(env, ops.size());
  for (size_t i = 0; i < ops.size(); i++) {
    if (ops[i].kind == OpKind::Read && i < r.completed && !r.missing[i])
      reads.Set(i, Napi::Buffer<char>::Copy(env, r.reads[i].data(), r.reads[i].size()));
    else
      reads.Set(i, env.Undefined());
  }
  out.Set("reads", reads);
  return out;
}

// batch(ops, options?) -> {completed, reads}; throws with step/completed on the first failure.
Napi::Value Batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Op> ops = ParseOps(env, info[0]);
  Options o = ParseOptions(info, 1);
  BatchResult r;
  RunBatch(ops, o, &r);
  if (r.failed) throw FailureError(env, ops, r);
  return ResultObject(env, ops, r);
}

class BatchWorker : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, std::vector<Op> ops, Options o)
      : Napi::AsyncWorker(env, "o2stack:attr-batch"), deferred_(Napi::Promise::Deferred::New(env)),
        ops_(std::move(ops)), options_(o) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { RunBatch(ops_, options_, &result_); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (result_.failed)
      deferred_.Reject(FailureError(env, ops_, result_).Value());
    else
      deferred_.Resolve(ResultObject(env, ops_, result_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Op> ops_;
  Options options_;
  BatchResult result_;
};

// batchAsync(ops, options?) -> Promise: the same, on a libuv worker thread (heartbeat "dev"
// writes block for seconds while the kernel checks the disk).
Napi::Value BatchAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Op> ops = ParseOps(env, info[0]);
  auto* w = new BatchWorker(env, std::move(ops), ParseOptions(info, 1));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value ReadAttr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info[0], "path");
  std::string out;
  int e = o2s::ReadWhole(path, &out);
  if (e != 0) throw o2s::ErrnoError(env, e, "read", path);
  return Napi::Buffer<char>::Copy(env, out.data(), out.size());
}

Napi::Value WriteAttr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info[0], "path");
  std::string data = o2s::BytesArg(info[1], "data");
  Failure f;
  if (!ExactWrite(path, data.data(), data.size(), ParseOptions(info, 2), &f)) throw o2s::ErrnoError(env, f.err, f.syscall, f.path);
  return Napi::Number::New(env, static_cast<double>(data.size()));
}

Napi::Value Mkdir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Op op;
  op.kind = OpKind::Mkdir;
  op.path = StringArg(info[0], "path");
  if (info.Length() > 1 && info[1].IsNumber()) op.mode = static_cast<mode_t>(info[1].As<Napi::Number>().Uint32Value());
  Failure f;
  std::string unused;
  bool missing = false;
  if (!RunOne(op, ParseOptions(info, 2), &unused, &f, &missing)) throw o2s::ErrnoError(env, f.err, f.syscall, f.path);
  return env.Undefined();
}

Napi::Value Rmdir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info[0], "path");
  int r = rmdir(path.c_str());
  if (r != 0 && errno == ENOTEMPTY && ParseOptions(info, 1).createMissing) r = o2s::FakeConfigfsRmdir(path);
  if (r != 0) throw o2s::ErrnoError(env, errno, "rmdir", path);
  return env.Undefined();
}

// list(path) -> [names, types, inos]: the entries but "." and "..", as names joined by "\0",
// one type letter each (d dir, f file, l link, o other) and a Float64Array of readdir's d_ino. On
// configfs a directory's inode lives as long as the directory, so an unchanged ino means the same
// item (lib/kernel/o2nm.ts trusts write-once values by it). Three values, not an object per entry:
// the backend builds those in JS, where it is cheap (crossings into V8 are not, under TCG).
Napi::Value List(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info[0], "path");
  DIR* d = opendir(path.c_str());
  if (d == nullptr) throw o2s::ErrnoError(env, errno, "opendir", path);
  std::string names, types;
  std::vector<double> inos;
  errno = 0;
  while (struct dirent* de = readdir(d)) {
    const char* name = de->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    unsigned char t = de->d_type;
    if (t == DT_UNKNOWN) {
      struct stat st;
      if (lstat((path + "/" + name).c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) t = DT_DIR;
        else if (S_ISREG(st.st_mode)) t = DT_REG;
        else if (S_ISLNK(st.st_mode)) t = DT_LNK;
      }
    }
    if (!types.empty()) names.push_back('\0');
    names.append(name);
    types.push_back(t == DT_DIR ? 'd' : t == DT_REG ? 'f' : t == DT_LNK ? 'l' : 'o');
    inos.push_back(static_cast<double>(de->d_ino));
  }
  int err = errno;
  closedir(d);
  if (err != 0) throw o2s::ErrnoError(env, err, "readdir", path);
  Napi::Float64Array ino = Napi::Float64Array::New(env, inos.size());
  for (size_t i = 0; i < inos.size(); i++) ino[i] = inos[i];
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::String::New(env, names));
  out.Set(1u, Napi::String::New(env, types));
  out.Set(2u, ino);
  return out;
}

// readUnder(dir, names) -> [values, missing]: the attributes dir/name for names joined by "\0",
// each with one read(2) (a configfs/sysfs attribute comes whole in one read), opened relative to
// one fd of dir so the kernel walks the path prefix once. values: the contents joined by "\0";
// missing: the indexes of names that do not exist (ENOENT/ENOTDIR; their value is ""). Any other
// failure throws with that attribute's path. One string each way, not an array of them: for
// reading every node's `local` the crossings into V8 cost more than the reads (TCG).
Napi::Value ReadUnder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = StringArg(info[0], "dir");
  std::string joined = StringArg(info[1], "names");
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw o2s::ErrnoError(env, errno, "open", dir);
  std::string values;
  std::vector<uint32_t> missing;
  char buf[4096];
  uint32_t index = 0;
  size_t start = 0;
  while (!joined.empty() && start <= joined.size()) {
    size_t end = joined.find('\0', start);
    if (end == std::string::npos) end = joined.size();
    std::string name = joined.substr(start, end - start);
    start = end + 1;
    if (index > 0) values.push_back('\0');
    int fd = openat(dfd, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e != ENOENT && e != ENOTDIR) {
        close(dfd);
        throw o2s::ErrnoError(env, e, "open", dir + "/" + name);
      }
      missing.push_back(index++);
      continue;
    }
    ssize_t r;
    do r = read(fd, buf, sizeof buf);
    while (r < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (r < 0) {
      close(dfd);
      throw o2s::ErrnoError(env, e, "read", dir + "/" + name);
    }
    values.append(buf, static_cast<size_t>(r));
    index++;
  }
  close(dfd);
  Napi::Array miss = Napi::Array::New(env, missing.size());
  for (size_t i = 0; i < missing.size(); i++) miss.Set(static_cast<uint32_t>(i), Napi::Number::New(env, missing[i]));
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::String::New(env, values));
  out.Set(1u, miss);
  return out;
}

void InitAttr(Napi::Env env, Napi::Object exports) {
  Napi::Object attr = Napi::Object::New(env);
  attr.Set("readAttr", Napi::Function::New(env, ReadAttr, "readAttr"));
  attr.Set("writeAttr", Napi::Function::New(env, WriteAttr, "writeAttr"));
  attr.Set("mkdir", Napi::Function::New(env, Mkdir, "mkdir"));
  attr.Set("rmdir", Napi::Function::New(env, Rmdir, "rmdir"));
  attr.Set("list", Napi::Function::New(env, List, "list"));
  attr.Set("readUnder", Napi::Function::New(env, ReadUnder, "readUnder"));
  attr.Set("batch", Napi::Function::New(env, Batch, "batch"));
  attr.Set("batchAsync", Napi::Function::New(env, BatchAsync, "batchAsync"));
  exports.Set("attr", attr);
}

}  // namespace

O2S_REGISTER_SURFACE(attr, InitAttr);
