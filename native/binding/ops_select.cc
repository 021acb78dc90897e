// selectSmallest(scores[], k, nan, eligible[]?, masks[]?, absolute?) -> { masks, threshold, eligible }
// nmMask(scores, m, n, eligible?, nan?) -> Uint8Array (N:M by |score| along consecutive groups)
#include <memory>
#include <string>
#include <vector>

#include "../cpu/select/select.h"
#ifdef SHEARS_WITH_CUDA
#include "../cuda/kernels.h"
#endif
#include "args.h"
#include "ops.h"
#include "owned.h"

namespace shears::binding {
namespace {

cpu::NanPolicy nan_policy(const Napi::Value& v) {
  if (is_absent(v)) return cpu::NanPolicy::kError;
  if (!v.IsString()) type_error("one of 'error', 'prune', 'keep'", "nan", v);
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "error") return cpu::NanPolicy::kError;
  if (s == "prune") return cpu::NanPolicy::kPrune;
  if (s == "keep") return cpu::NanPolicy::kKeep;
  range_error("one of 'error', 'prune', 'keep'", "nan", describe(v));
}

Napi::Array array_arg(const Napi::Value& v, const char* name, uint32_t expected_length, bool check_length) {
  if (!v.IsArray()) type_error("an Array", name, v);
  Napi::Array a = v.As<Napi::Array>();
  if (check_length && a.Length() != expected_length)
    range_error("an Array of length " + std::to_string(expected_length) + " (one per scores buffer)", name,
                "length " + std::to_string(a.Length()));
  return a;
}

using SelectFn = cpu::SelectResult (*)(std::vector<cpu::ScoreBuffer>&, int64_t, cpu::NanPolicy, bool, bool);

// The arguments of a selection, checked and pinned, run by `run_select` (CPU or CUDA).
Task prepare_select_with(const Napi::CallbackInfo& info, SelectFn run_select) {
  Napi::Env env = info.Env();
  const Napi::Array scores = array_arg(info[0], "scores", 0, false);
  const uint32_t count = scores.Length();
  if (!info[1].IsNumber()) type_error("integer >= 0", "k", info[1]);
  const double kd = info[1].As<Napi::Number>().DoubleValue();
  if (!(kd >= 0) || kd != static_cast<double>(static_cast<int64_t>(kd))) range_error("integer >= 0", "k", describe(info[1]));
  const int64_t k = static_cast<int64_t>(kd);
  const cpu::NanPolicy nan = nan_policy(info[2]);
  const bool absolute = boolean(info[5], "absolute", false);
  const bool has_eligible = !is_absent(info[3]);
  const bool has_masks = !is_absent(info[4]);
  Napi::Array eligible = has_eligible ? array_arg(info[3], "eligible", count, true) : Napi::Array();
  Napi::Array masks_in = has_masks ? array_arg(info[4], "masks", count, true) : Napi::Array();

  auto buffers = std::make_shared<std::vector<cpu::ScoreBuffer>>(count);
  Napi::Array masks = Napi::Array::New(env, count);
  Task t;
  struct Input {
    const void* p;
    size_t bytes;
    bool eligibility;  // may double as its own buffer's output mask (in-place composition)
    uint32_t index;
  };
  std::vector<Input> inputs;
  std::vector<std::pair<const char*, size_t>> outputs;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string sname = "scores[" + std::to_string(i) + "]";
    const Array<float> s = f32(scores.Get(i), sname.c_str());
    cpu::ScoreBuffer& b = (*buffers)[i];
    b.scores = s.data;
    b.count = s.length;
    inputs.push_back({s.data, s.bytes(), false, i});
    t.pin(s.handle);
    if (has_eligible && !is_absent(eligible.Get(i))) {
      const std::string ename = "eligible[" + std::to_string(i) + "]";
      const Array<uint8_t> e = u8(eligible.Get(i), ename.c_str());
      expect_length(e, s.length, ename.c_str(), "scores[" + std::to_string(i) + "].length");
      b.eligible = e.data;
      inputs.push_back({e.data, static_cast<size_t>(e.length), true, i});
      t.pin(e.handle);
    }
  }
  bool scratch = true;  // every mask is allocated here (none is the caller's)
  for (uint32_t i = 0; i < count; ++i) {
    cpu::ScoreBuffer& b = (*buffers)[i];
    Napi::Value m;
    if (has_masks && !is_absent(masks_in.Get(i))) {
      scratch = false;
      const std::string mname = "masks[" + std::to_string(i) + "]";
      const Array<uint8_t> out = u8(masks_in.Get(i), mname.c_str());
      expect_length(out, b.count, mname.c_str(), "scores[" + std::to_string(i) + "].length");
      const char* lo = reinterpret_cast<const char*>(out.data);
      for (const Input& in : inputs) {
        const char* a = static_cast<const char*>(in.p);
        // An eligibility mask may double as the output (in-place composition); scores may not.
        if (in.bytes > 0 && out.length > 0 && a < lo + out.length && lo < a + in.bytes && !(in.eligibility && in.index == i && in.p == out.data))
          range_error("an array that shares no memory with the scores", mname.c_str(), "an overlapping array");
      }
      for (const auto& [o, bytes] : outputs)
        if (bytes > 0 && out.length > 0 && o < lo + out.length && lo < o + bytes)
          range_error("an array that shares no memory with the other masks", mname.c_str(), "an overlapping array");
      outputs.push_back({lo, static_cast<size_t>(out.length)});
      b.mask = out.data;
      m = out.handle;
    } else {
      Napi::Uint8Array arr = fresh<uint8_t, Napi::Uint8Array>(env, b.count, [i] { return "the mask of scores[" + std::to_string(i) + "]"; });
      b.mask = arr.Data();
      m = arr;
    }
    masks.Set(i, m);
  }
  const size_t slot = t.pin(masks);
  auto result = std::make_shared<cpu::SelectResult>();
  // Masks this call allocated itself may be written before its checks pass (they are dropped if it
  // throws); the caller's own `masks` are written only after.
  t.run = [buffers, k, nan, absolute, result, run_select, scratch] { *result = run_select(*buffers, k, nan, absolute, scratch); };
  t.finish = [slot, result](Napi::Env e, Task& self) {
    Napi::Object o = Napi::Object::New(e);
    o.Set("masks", self.pinned(slot));
    o.Set("threshold", result->threshold);
    o.Set("eligible", static_cast<double>(result->eligible));
    return o;
  };
  return t;
}

Task prepare_select(const Napi::CallbackInfo& info) { return prepare_select_with(info, &cpu::select_smallest); }

#ifdef SHEARS_WITH_CUDA
Task prepare_cuda_select(const Napi::CallbackInfo& info) { return prepare_select_with(info, &cuda::select_smallest_host); }
#endif

Task prepare_nm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Array<float> s = f32(info[0], "scores");
  const int64_t m = positive_dim(info[1], "m");
  const int64_t n = dim(info[2], "n");
  if (n > m) range_error("an integer between 0 and m (" + std::to_string(m) + ")", "n", describe(info[2]));
  if (m > 4096) range_error("a group size of at most 4096", "m", describe(info[1]));
  if (s.length % m != 0)
    range_error("a divisor of the scores' length (" + std::to_string(s.length) + ")", "m", describe(info[1]));
  Task t;
  t.pin(s.handle);
  const uint8_t* eligible = nullptr;
  if (!is_absent(info[3])) {
    const Array<uint8_t> e = u8(info[3], "mask");
    expect_length(e, s.length, "mask", "scores.length");
    eligible = e.data;
    t.pin(e.handle);
  }
  const cpu::NanPolicy nan = nan_policy(info[4]);
  Napi::Uint8Array out = fresh<uint8_t, Napi::Uint8Array>(env, s.length, [] { return "the mask"; });
  const size_t slot = t.pin(out);
  const float* scores = s.data;
  const int64_t count = s.length;
  uint8_t* o = out.Data();
  t.run = [=] { cpu::nm_mask(scores, count, static_cast<int>(m), static_cast<int>(n), eligible, nan, o); };
  t.finish = [slot](Napi::Env, Task& self) { return self.pinned(slot); };
  return t;
}

}  // namespace

void register_select_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("selectSmallest", Napi::Function::New(env, Sync<prepare_select>, "selectSmallest"));
  exports.Set("selectSmallestAsync", Napi::Function::New(env, Async<prepare_select>, "selectSmallestAsync"));
#ifdef SHEARS_WITH_CUDA
  exports.Set("cudaSelectSmallest", Napi::Function::New(env, Sync<prepare_cuda_select>, "cudaSelectSmallest"));
  exports.Set("cudaSelectSmallestAsync", Napi::Function::New(env, Async<prepare_cuda_select>, "cudaSelectSmallestAsync"));
#endif
  exports.Set("nmMask", Napi::Function::New(env, Sync<prepare_nm>, "nmMask"));
  exports.Set("nmMaskAsync", Napi::Function::New(env, Async<prepare_nm>, "nmMaskAsync"));
}

}  // namespace shears::binding
