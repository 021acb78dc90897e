// The trainer's native entry points (the math is in cpu/train/mlp.cc):
//   trainEpoch(layers, x, y, options, onProgress?) -> { loss, steps, correct, seen, aborted, sparse }
//   predict(layers, x, n, batch, sparseBelow) -> Float32Array logits [n, classes]
//   gradients(layers, x, y, n, sparse) -> { loss, dw: Float32Array[], db: Float32Array[] }
//   pruneLayers(layers, event, criterion)
// A layer is { in, out, w, b?, mask, vw, vb?, score?, relu, dropout, frozen }; every buffer is the
// caller's and is updated in place. The TypeScript side (src/train) checks shapes and values
// first; the checks here keep a wrong call from reading out of bounds.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../core/errors.h"
#include "../cpu/sparse/sparse.h"
#include "../cpu/train/mlp.h"
#include "args.h"
#include "ops.h"
#include "owned.h"
#include "sgd_args.h"
#ifdef SHEARS_WITH_CUDA
#include "../cuda/train.h"
#endif

namespace shears::binding {
namespace {

namespace tr = cpu::train;

Napi::Object object_arg(const Napi::Value& v, const std::string& name) {
  if (!v.IsObject() || v.IsArray()) type_error("an object", name.c_str(), v);
  return v.As<Napi::Object>();
}

double number_field(const Napi::Object& o, const char* key, const std::string& owner, double fallback) {
  Napi::Value v = o.Get(key);
  if (is_absent(v)) return fallback;
  const std::string name = owner + "." + key;
  if (!v.IsNumber()) type_error("a number", name.c_str(), v);
  return v.As<Napi::Number>().DoubleValue();
}

std::string string_field(const Napi::Object& o, const char* key, const std::string& owner, const char* fallback) {
  Napi::Value v = o.Get(key);
  if (is_absent(v)) return fallback;
  const std::string name = owner + "." + key;
  if (!v.IsString()) type_error("a string", name.c_str(), v);
  return v.As<Napi::String>().Utf8Value();
}

bool bool_field(const Napi::Object& o, const char* key, const std::string& owner) {
  const std::string name = owner + "." + key;
  return boolean(o.Get(key), name.c_str(), false);
}

// Parses and pins the layers; checks that they chain and that every buffer has its length.
std::shared_ptr<std::vector<tr::Layer>> layers_arg(const Napi::Value& v, Task& t, bool need_optimizer) {
  if (!v.IsArray()) type_error("an Array of layers", "layers", v);
  Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() == 0) range_error("at least one layer", "layers", "an empty Array");
  auto layers = std::make_shared<std::vector<tr::Layer>>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string name = "layers[" + std::to_string(i) + "]";
    Napi::Object o = object_arg(arr.Get(i), name);
    tr::Layer l;
    l.in = dim(o.Get("in"), (name + ".in").c_str());
    l.out = positive_dim(o.Get("out"), (name + ".out").c_str());
    if (!layers->empty() && layers->back().out != l.in)
      range_error("in = " + std::to_string(layers->back().out) + " (the previous layer's out)", (name + ".in").c_str(),
                  std::to_string(l.in));
    const int64_t size = checked_product(l.in, l.out, "layer size");
    auto buf = [&](const char* key, int64_t length, bool required) -> float* {
      Napi::Value b = o.Get(key);
      if (!required && is_absent(b)) return nullptr;
      const std::string bn = name + "." + key;
      Array<float> a = f32(b, bn.c_str());
      expect_length(a, length, bn.c_str(), "its shape");
      t.pin(a.handle);
      return a.data;
    };
    l.w = buf("w", size, true);
    l.b = buf("b", l.out, false);
    {
      const std::string mn = name + ".mask";
      Array<uint8_t> m = u8(o.Get("mask"), mn.c_str());
      expect_length(m, size, mn.c_str(), "w.length");
      t.pin(m.handle);
      l.mask = m.data;
    }
    l.vw = buf("vw", size, need_optimizer);
    l.vb = l.b ? buf("vb", l.out, need_optimizer) : nullptr;
    l.score = buf("score", size, false);
    for (const char* key : {"actAbs", "actZero"}) {
      Napi::Value b = o.Get(key);
      if (is_absent(b)) continue;
      const std::string bn = name + "." + key;
      Array<double> a = f64(b, bn.c_str());
      expect_length(a, l.out, bn.c_str(), "out");
      t.pin(a.handle);
      (key[3] == 'A' ? l.act_abs : l.act_zero) = a.data;
    }
    if ((l.act_abs == nullptr) != (l.act_zero == nullptr))
      range_error("both actAbs and actZero, or neither", (name + ".actAbs").c_str(), "one of them");
    l.relu = bool_field(o, "relu", name);
    const double p = number_field(o, "dropout", name, 0);
    if (!(p >= 0 && p < 1)) range_error("a dropout probability in [0, 1)", (name + ".dropout").c_str(), std::to_string(p));
    l.dropout = static_cast<float>(p);
    l.frozen = bool_field(o, "frozen", name);
    const double ex = number_field(o, "execution", name, -1);
    if (ex != -1 && ex != 0 && ex != 1) range_error("-1 (by density), 0 (dense) or 1 (sparse)", (name + ".execution").c_str(), std::to_string(ex));
    l.execution = static_cast<int>(ex);
    layers->push_back(l);
  }
  return layers;
}

tr::Criterion criterion_arg(const Napi::Value& v) {
  if (is_absent(v)) return tr::Criterion::kNone;
  if (!v.IsString()) type_error("a criterion name", "criterion", v);
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "magnitude") return tr::Criterion::kNone;
  if (s == "gradient") return tr::Criterion::kGradient;
  if (s == "taylor") return tr::Criterion::kTaylor;
  if (s == "fisher") return tr::Criterion::kFisher;
  if (s == "movement") return tr::Criterion::kMovement;
  range_error("one of 'magnitude', 'gradient', 'taylor', 'fisher', 'movement'", "criterion", describe(v));
}

tr::PruneEvent event_arg(const Napi::Value& v, const std::string& name, size_t layers) {
  Napi::Object o = object_arg(v, name);
  tr::PruneEvent e;
  e.step = static_cast<int64_t>(number_field(o, "step", name, 0));
  e.global = bool_field(o, "global", name);
  const std::string tn = name + ".target";
  Array<double> target = f64(o.Get("target"), tn.c_str());
  if (target.length != static_cast<int64_t>(layers))
    range_error("a Float64Array with one entry per layer", tn.c_str(), "length " + std::to_string(target.length));
  for (int64_t i = 0; i < target.length; ++i)
    if (!(target.data[i] < 1)) range_error("sparsities below 1 (or < 0 to skip a layer)", tn.c_str(), std::to_string(target.data[i]));
  e.target.assign(target.data, target.data + target.length);
  return e;
}

// x [n, features] and y [n] checks shared by the entry points.
void check_data(const Array<float>& x, const Array<int32_t>* y, int64_t n, int64_t features, int64_t classes) {
  expect_length(x, checked_product(n, features, "x size"), "x", "n × features");
  if (y) {
    expect_length(*y, n, "y", "n");
    for (int64_t i = 0; i < n; ++i)
      if (y->data[i] < 0 || y->data[i] >= classes)
        range_error("labels in [0, " + std::to_string(classes) + ")", "y",
                    "y[" + std::to_string(i) + "] = " + std::to_string(y->data[i]));
  }
}

// x [n, features] and y [n] of a call, checked against the layers and pinned.
struct Samples {
  Array<float> x;
  Array<int32_t> y;
};
Samples samples_arg(const Napi::CallbackInfo& info, Task& t, const std::vector<tr::Layer>& layers) {
  Samples s{f32(info[1], "x"), i32(info[2], "y")};
  t.pin(s.x.handle);
  t.pin(s.y.handle);
  if (s.y.length == 0) range_error("at least one sample", "y", "an empty array");
  check_data(s.x, &s.y, s.y.length, layers.front().in, layers.back().out);
  return s;
}

struct ProgressFn {
  Napi::ThreadSafeFunction fn;
  bool active = false;
  ~ProgressFn() {
    if (active) fn.Release();
  }
};

Task prepare_train(const Napi::CallbackInfo& info) {
  Task t;
  auto layers = layers_arg(info[0], t, true);
  const auto [x, y] = samples_arg(info, t, *layers);
  const int64_t features = layers->front().in, classes = layers->back().out;
  const int64_t n = y.length;
  Napi::Object o = object_arg(info[3], "options");
  auto cfg = std::make_shared<tr::EpochConfig>();
  cfg->x = x.data;
  cfg->y = y.data;
  cfg->samples = n;
  cfg->batch = positive_dim(o.Get("batchSize"), "options.batchSize");
  const int64_t steps = (n + std::min(cfg->batch, n) - 1) / std::min(cfg->batch, n);
  const Array<float> lr = f32(o.Get("lr"), "options.lr");
  expect_length(lr, steps, "options.lr", "the epoch's steps");
  t.pin(lr.handle);
  for (int64_t i = 0; i < steps; ++i)
    if (!(lr.data[i] >= 0) || !std::isfinite(lr.data[i])) range_error("finite learning rates >= 0", "options.lr", "lr[" + std::to_string(i) + "] = " + std::to_string(lr.data[i]));
  cfg->lr = lr.data;
  cfg->momentum = static_cast<float>(number_field(o, "momentum", "options", 0));
  cfg->weight_decay = static_cast<float>(number_field(o, "weightDecay", "options", 0));
  cfg->nesterov = bool_field(o, "nesterov", "options");
  cfg->seed = static_cast<uint64_t>(number_field(o, "seed", "options", 0));
  cfg->shuffle = boolean(o.Get("shuffle"), "options.shuffle", true);
  cfg->criterion = criterion_arg(o.Get("criterion"));
  cfg->sparse_below = number_field(o, "sparseBelow", "options", 0.3);
  Napi::Value ev = o.Get("events");
  if (!is_absent(ev)) {
    if (!ev.IsArray()) type_error("an Array of pruning events", "options.events", ev);
    Napi::Array events = ev.As<Napi::Array>();
    for (uint32_t i = 0; i < events.Length(); ++i)
      cfg->events.push_back(event_arg(events.Get(i), "options.events[" + std::to_string(i) + "]", layers->size()));
  }
  Napi::Value rg = o.Get("regrow");
  if (!is_absent(rg)) {
    if (!rg.IsArray()) type_error("an Array of { step, fraction, random }", "options.regrow", rg);
    Napi::Array arr = rg.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      const std::string name = "options.regrow[" + std::to_string(i) + "]";
      Napi::Object e = object_arg(arr.Get(i), name);
      tr::RegrowEvent ev;
      ev.step = static_cast<int64_t>(number_field(e, "step", name, 0));
      ev.fraction = number_field(e, "fraction", name, 0);
      ev.random = bool_field(e, "random", name);
      if (!(ev.fraction >= 0 && ev.fraction <= 1)) range_error("a fraction in [0, 1]", (name + ".fraction").c_str(), std::to_string(ev.fraction));
      if (!cfg->regrow.empty() && ev.step <= cfg->regrow.back().step) range_error("steps in increasing order", (name + ".step").c_str(), std::to_string(ev.step));
      cfg->regrow.push_back(ev);
    }
  }
  if (cfg->criterion != tr::Criterion::kNone)
    for (size_t l = 0; l < layers->size(); ++l)
      if (!(*layers)[l].score) range_error("a score buffer on every layer for this criterion", ("layers[" + std::to_string(l) + "].score").c_str(), "none");
  auto teacher = std::make_shared<std::vector<tr::TeacherLayer>>();
  Napi::Value tv = o.Get("teacher");
  if (!is_absent(tv)) {
    auto tl = layers_arg(tv, t, false);
    if (tl->front().in != features || tl->back().out != classes)
      range_error("a teacher with the student's inputs and classes", "options.teacher", "other shapes");
    for (const tr::Layer& l : *tl) teacher->push_back({l.in, l.out, l.w, l.b, l.relu});
    cfg->teacher = teacher.get();
    cfg->alpha = static_cast<float>(number_field(o, "alpha", "options", 0.5));
    cfg->temperature = static_cast<float>(number_field(o, "temperature", "options", 4));
    if (!(cfg->alpha >= 0 && cfg->alpha <= 1)) range_error("alpha in [0, 1]", "options.alpha", std::to_string(cfg->alpha));
    if (!(cfg->temperature > 0)) range_error("a temperature > 0", "options.temperature", std::to_string(cfg->temperature));
  }
  Napi::Value snap = o.Get("snapshot");
  if (!is_absent(snap)) {
    Napi::Object so = object_arg(snap, "options.snapshot");
    cfg->snapshot_step = static_cast<int64_t>(number_field(so, "step", "options.snapshot", -1));
    Napi::Value bufs = so.Get("weights");
    if (!bufs.IsArray() || bufs.As<Napi::Array>().Length() != layers->size())
      type_error("an Array with one Float32Array per layer", "options.snapshot.weights", bufs);
    for (uint32_t i = 0; i < layers->size(); ++i) {
      const std::string bn = "options.snapshot.weights[" + std::to_string(i) + "]";
      Array<float> a = f32(bufs.As<Napi::Array>().Get(i), bn.c_str());
      expect_length(a, (*layers)[i].in * (*layers)[i].out, bn.c_str(), "the layer's size");
      t.pin(a.handle);
      cfg->snapshot.push_back(a.data);
    }
    // Optional: one Float32Array of `out` values per layer with a bias (null for the others).
    Napi::Value bias = so.Get("biases");
    if (!is_absent(bias)) {
      if (!bias.IsArray() || bias.As<Napi::Array>().Length() != layers->size())
        type_error("an Array with one Float32Array (or null) per layer", "options.snapshot.biases", bias);
      for (uint32_t i = 0; i < layers->size(); ++i) {
        Napi::Value bv = bias.As<Napi::Array>().Get(i);
        if (is_absent(bv)) {
          cfg->snapshot_bias.push_back(nullptr);
          continue;
        }
        const std::string bn = "options.snapshot.biases[" + std::to_string(i) + "]";
        Array<float> a = f32(bv, bn.c_str());
        expect_length(a, (*layers)[i].out, bn.c_str(), "the layer's outputs");
        t.pin(a.handle);
        cfg->snapshot_bias.push_back(a.data);
      }
    }
  }
  Napi::Value vx = o.Get("validationX");
  if (!is_absent(vx)) {
    const Array<float> x2 = f32(vx, "options.validationX");
    const Array<int32_t> y2 = i32(o.Get("validationY"), "options.validationY");
    check_data(x2, &y2, y2.length, features, classes);
    t.pin(x2.handle);
    t.pin(y2.handle);
    cfg->val_x = x2.data;
    cfg->val_y = y2.data;
    cfg->val_n = y2.length;
  }
  Napi::Value abort = o.Get("abort");
  if (!is_absent(abort)) {
    const Array<int32_t> flag = i32(abort, "options.abort");
    expect_length(flag, 1, "options.abort", "1");
    t.pin(flag.handle);
    cfg->abort_flag = flag.data;
  }
  auto progress = std::make_shared<ProgressFn>();
  if (info.Length() > 4 && info[4].IsFunction()) {
    progress->fn = Napi::ThreadSafeFunction::New(info.Env(), info[4].As<Napi::Function>(), "shears.trainEpoch.progress", 0, 1);
    progress->active = true;
    cfg->progress = [progress](const tr::Progress& p) {
      auto* copy = new tr::Progress(p);
      const napi_status s = progress->fn.NonBlockingCall(copy, [](Napi::Env env, Napi::Function fn, tr::Progress* q) {
        Napi::Object o = Napi::Object::New(env);
        o.Set("step", static_cast<double>(q->step));
        o.Set("steps", static_cast<double>(q->steps));
        o.Set("loss", q->loss);
        o.Set("samplesPerSecond", q->samples_per_second);
        delete q;
        fn.Call({o});
      });
      if (s != napi_ok) delete copy;
    };
  }
  auto result = std::make_shared<tr::EpochResult>();
  const std::string device = string_field(o, "device", "options", "cpu");
  if (device != "cpu" && device != "cuda") range_error("'cpu' or 'cuda'", "options.device", device);
#ifdef SHEARS_WITH_CUDA
  if (device == "cuda") t.run = [layers, cfg, teacher, result, progress] { *result = cuda::run_epoch(*layers, *cfg); };
#else
  if (device == "cuda") throw Error(ErrorKind::kDevice, "This build of shears has no CUDA: build it with npm run build:cuda where a CUDA toolkit is installed");
#endif
  if (device == "cpu") t.run = [layers, cfg, teacher, result, progress] { *result = tr::run_epoch(*layers, *cfg); };
  t.finish = [result](Napi::Env env, Task&) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("loss", result->loss);
    o.Set("steps", static_cast<double>(result->steps));
    o.Set("correct", static_cast<double>(result->correct));
    o.Set("seen", static_cast<double>(result->seen));
    o.Set("aborted", result->aborted);
    Napi::Array s = Napi::Array::New(env, result->sparse_layers.size());
    for (size_t i = 0; i < result->sparse_layers.size(); ++i) s.Set(static_cast<uint32_t>(i), result->sparse_layers[i] != 0);
    o.Set("sparse", s);
    Napi::Array ev = Napi::Array::New(env, result->events.size());
    for (size_t i = 0; i < result->events.size(); ++i) {
      const tr::EventLog& e = result->events[i];
      Napi::Object eo = Napi::Object::New(env);
      eo.Set("step", static_cast<double>(e.step));
      Napi::Array sp = Napi::Array::New(env, e.sparsity.size());
      for (size_t l = 0; l < e.sparsity.size(); ++l) sp.Set(static_cast<uint32_t>(l), e.sparsity[l]);
      eo.Set("sparsity", sp);
      if (e.accuracy >= 0) eo.Set("accuracy", e.accuracy);
      ev.Set(static_cast<uint32_t>(i), eo);
    }
    o.Set("events", ev);
    return o;
  };
  return t;
}

Task prepare_predict(const Napi::CallbackInfo& info) {
  Task t;
  auto layers = layers_arg(info[0], t, false);
  const Array<float> x = f32(info[1], "x");
  t.pin(x.handle);
  const int64_t n = dim(info[2], "n");
  const int64_t batch = positive_dim(info[3], "batch");
  if (!info[4].IsNumber()) type_error("a number", "sparseBelow", info[4]);
  const double sparse_below = info[4].As<Napi::Number>().DoubleValue();
  const int64_t classes = layers->back().out;
  check_data(x, nullptr, n, layers->front().in, classes);
  // Optional cached CSR per layer: layers[i].csr = { rowPtr, colIdx, values }, checked here.
  auto cached = std::make_shared<std::vector<cpu::CsrView>>(layers->size());
  Napi::Array larr = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < larr.Length(); ++i) {
    Napi::Value c = larr.Get(i).As<Napi::Object>().Get("csr");
    if (is_absent(c)) continue;
    const std::string name = "layers[" + std::to_string(i) + "].csr";
    Napi::Object co = object_arg(c, name);
    const Array<int32_t> rp = i32(co.Get("rowPtr"), (name + ".rowPtr").c_str());
    const Array<int32_t> ci = i32(co.Get("colIdx"), (name + ".colIdx").c_str());
    const Array<float> va = f32(co.Get("values"), (name + ".values").c_str());
    const tr::Layer& l = (*layers)[i];
    expect_length(rp, l.out + 1, (name + ".rowPtr").c_str(), "out + 1");
    expect_length(va, ci.length, (name + ".values").c_str(), "colIdx.length");
    cpu::CsrView v{l.out, l.in, rp.data, ci.data, va.data, ci.length};
    cpu::validate_csr(v, name.c_str());
    t.pin(rp.handle);
    t.pin(ci.handle);
    t.pin(va.handle);
    (*cached)[i] = v;
  }
  Napi::Float32Array out = fresh<float, Napi::Float32Array>(info.Env(), checked_product(n, classes, "logits size"), [] { return "the logits [n x classes]"; });
  const size_t slot = t.pin(out);
  float* logits = out.Data();
  const float* xd = x.data;
  t.run = [layers, xd, n, batch, sparse_below, logits, cached] { tr::predict(*layers, xd, n, batch, sparse_below, logits, cached.get()); };
  t.finish = [slot](Napi::Env, Task& self) { return self.pinned(slot); };
  return t;
}

Task prepare_gradients(const Napi::CallbackInfo& info) {
  Task t;
  auto layers = layers_arg(info[0], t, false);
  const auto [x, y] = samples_arg(info, t, *layers);
  const int64_t n = y.length;
  const bool sparse = boolean(info[3], "sparse", false);
  Napi::Env env = info.Env();
  Napi::Array dws = Napi::Array::New(env, layers->size()), dbs = Napi::Array::New(env, layers->size());
  auto dw = std::make_shared<std::vector<float*>>(), db = std::make_shared<std::vector<float*>>();
  for (size_t l = 0; l < layers->size(); ++l) {
    const auto gn = [l] { return "the gradients of layers[" + std::to_string(l) + "]"; };
    Napi::Float32Array a = fresh<float, Napi::Float32Array>(env, (*layers)[l].in * (*layers)[l].out, gn);
    Napi::Float32Array b = fresh<float, Napi::Float32Array>(env, (*layers)[l].out, gn);
    dw->push_back(a.Data());
    db->push_back(b.Data());
    dws.Set(static_cast<uint32_t>(l), a);
    dbs.Set(static_cast<uint32_t>(l), b);
  }
  const size_t sw = t.pin(dws), sb = t.pin(dbs);
  auto loss = std::make_shared<double>(0);
  const float* xd = x.data;
  const int32_t* yd = y.data;
  t.run = [layers, xd, yd, n, sparse, dw, db, loss] { *loss = tr::gradients(*layers, xd, yd, n, sparse, *dw, *db); };
  t.finish = [sw, sb, loss](Napi::Env e, Task& self) {
    Napi::Object o = Napi::Object::New(e);
    o.Set("loss", *loss);
    o.Set("dw", self.pinned(sw));
    o.Set("db", self.pinned(sb));
    return o;
  };
  return t;
}

Task prepare_prune_layers(const Napi::CallbackInfo& info) {
  Task t;
  auto layers = layers_arg(info[0], t, true);
  auto event = std::make_shared<tr::PruneEvent>(event_arg(info[1], "event", layers->size()));
  const tr::Criterion criterion = criterion_arg(info[2]);
  t.run = [layers, event, criterion] { tr::prune_now(*layers, *event, criterion); };
  t.finish = [](Napi::Env env, Task&) { return env.Undefined(); };
  return t;
}

// maskedSgd(w, g, v, mask?, lr, momentum, weightDecay, nesterov): one fused optimizer step in place.
void sgd_step(const SgdArgs& a) { tr::masked_sgd(a.w, a.g, a.v, a.mask, a.count, a.lr, a.momentum, a.weight_decay, a.nesterov); }
constexpr Prepare prepare_sgd = sgd_task<sgd_step>;

}  // namespace

void register_train_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("trainEpoch", Napi::Function::New(env, Sync<prepare_train>, "trainEpoch"));
  exports.Set("trainEpochAsync", Napi::Function::New(env, Async<prepare_train>, "trainEpochAsync"));
  exports.Set("predict", Napi::Function::New(env, Sync<prepare_predict>, "predict"));
  exports.Set("predictAsync", Napi::Function::New(env, Async<prepare_predict>, "predictAsync"));
  exports.Set("gradients", Napi::Function::New(env, Sync<prepare_gradients>, "gradients"));
  exports.Set("pruneLayers", Napi::Function::New(env, Sync<prepare_prune_layers>, "pruneLayers"));
  exports.Set("maskedSgd", Napi::Function::New(env, Sync<prepare_sgd>, "maskedSgd"));
  exports.Set("maskedSgdAsync", Napi::Function::New(env, Async<prepare_sgd>, "maskedSgdAsync"));
}

}  // namespace shears::binding
