// The prepare functions of every operation (see task.h), grouped by family.
#pragma once

#include "task.h"

namespace shears::binding {

void register_dense_ops(Napi::Env env, Napi::Object exports);
void register_sparse_ops(Napi::Env env, Napi::Object exports);
void register_select_ops(Napi::Env env, Napi::Object exports);
void register_score_ops(Napi::Env env, Napi::Object exports);
void register_train_ops(Napi::Env env, Napi::Object exports);
void register_io_ops(Napi::Env env, Napi::Object exports);
void register_cuda_ops(Napi::Env env, Napi::Object exports);

}  // namespace shears::binding
