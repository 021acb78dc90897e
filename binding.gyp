{
  # Default CPU build (npm install). Only the per-ISA libraries get ISA flags; the addon picks a
  # variant at run time from CPUID + XGETBV, and the scalar variant always works.
  "variables": {
    "shears_common_cflags": ["-O3", "-fPIC", "-fexceptions", "-Wall", "-Wno-unknown-pragmas"]
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["<@(shears_common_cflags)", "-std=c++17"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "conditions": [
      ["target_arch=='x64'", {"defines": ["SHEARS_HAVE_AVX2", "SHEARS_HAVE_AVX512"]}],
      ["target_arch=='arm64'", {"defines": ["SHEARS_HAVE_NEON"]}]
    ]
  },
  "targets": [
    {
      "target_name": "shears",
      "sources": [
        "native/core/cpu_features.cc",
        "native/core/thread_pool.cc",
        "native/core/memory.cc",
        "native/cpu/gemm/gemm.cc",
        "native/cpu/gemm/gemm_scalar.cc",
        "native/cpu/sparse/sparse.cc",
        "native/cpu/sparse/sparse_scalar.cc",
        "native/cpu/sparse/convert.cc",
        "native/cpu/probe/probe.cc",
        "native/cpu/select/select.cc",
        "native/cpu/select/nm.cc",
        "native/cpu/train/mlp.cc",
        "native/io/matrix_market.cc",
        "native/cpu/select/select_scalar.cc",
        "native/cpu/scores/scores.cc",
        "native/cpu/scores/scores_scalar.cc",
        "native/cpu/probe/probe_scalar.cc",
        "native/binding/args.cc",
        "native/binding/task.cc",
        "native/binding/ops_dense.cc",
        "native/binding/ops_sparse.cc",
        "native/binding/ops_select.cc",
        "native/binding/ops_train.cc",
        "native/binding/ops_io.cc",
        "native/binding/ops_cuda.cc",
        "native/binding/ops_scores.cc",
        "native/binding/addon.cc"
      ],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["shears_avx2", "shears_avx512"]}],
        ["target_arch=='arm64'", {"dependencies": ["shears_neon"]}]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "shears_avx2",
          "type": "static_library",
          "cflags_cc": ["-mavx2", "-mfma", "-mpopcnt"],
          "sources": ["native/cpu/gemm/gemm_avx2.cc", "native/cpu/sparse/sparse_avx2.cc", "native/cpu/probe/probe_avx2.cc", "native/cpu/scores/scores_avx2.cc", "native/cpu/select/select_avx2.cc"]
        },
        {
          "target_name": "shears_avx512",
          "type": "static_library",
          "cflags_cc": ["-mavx2", "-mfma", "-mpopcnt", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-Wno-maybe-uninitialized"],
          "sources": ["native/cpu/gemm/gemm_avx512.cc", "native/cpu/sparse/sparse_avx512.cc", "native/cpu/probe/probe_avx512.cc", "native/cpu/scores/scores_avx512.cc", "native/cpu/select/select_avx512.cc"]
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "shears_neon",
          "type": "static_library",
          "sources": ["native/cpu/gemm/gemm_neon.cc", "native/cpu/sparse/sparse_neon.cc", "native/cpu/probe/probe_neon.cc", "native/cpu/scores/scores_neon.cc", "native/cpu/select/select_neon.cc"]
        }
      ]
    }]
  ]
}
