// File parsers: parseMatrixMarket(bytes, name, sumDuplicates) -> { rows, cols, rowPtr, colIdx,
// values, format, field, symmetry, entries }. The parsing is in native/io.
#include <memory>
#include <string>

#include "../io/matrix_market.h"
#include "args.h"
#include "ops.h"
#include "owned.h"

namespace shears::binding {
namespace {

Task prepare_matrix_market(const Napi::CallbackInfo& info) {
  const Array<uint8_t> bytes = u8(info[0], "bytes");
  if (!info[1].IsString()) type_error("a file name", "name", info[1]);
  const std::string name = info[1].As<Napi::String>().Utf8Value();
  const bool sum = boolean(info[2], "sumDuplicates", true);
  Task t;
  t.pin(bytes.handle);
  struct Result {
    cpu::OwnedCsr csr;
    io::MatrixMarketInfo info;
  };
  auto result = std::make_shared<Result>();
  const char* data = reinterpret_cast<const char*>(bytes.data);
  const int64_t size = bytes.length;
  t.run = [=] { result->csr = io::parse_matrix_market(data, size, name, sum, result->info); };
  t.finish = [result](Napi::Env env, Task&) {
    Napi::Object o = structure_result(env, result->csr);
    o.Set("rows", static_cast<double>(result->csr.rows));
    o.Set("cols", static_cast<double>(result->csr.cols));
    o.Set("format", result->info.format);
    o.Set("field", result->info.field);
    o.Set("symmetry", result->info.symmetry);
    o.Set("entries", static_cast<double>(result->info.entries));
    return o;
  };
  return t;
}

}  // namespace

void register_io_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("parseMatrixMarket", Napi::Function::New(env, Sync<prepare_matrix_market>, "parseMatrixMarket"));
  exports.Set("parseMatrixMarketAsync", Napi::Function::New(env, Async<prepare_matrix_market>, "parseMatrixMarketAsync"));
}

}  // namespace shears::binding
