// The native trainer: whole epochs of masked SGD over a stack of linear layers (optional ReLU and
// dropout after each), softmax cross-entropy (optionally distilled from a teacher), pruning events
// at planned steps, and the statistics pruning criteria need.
//
// Activations are feature-major ([features, batch]) so every product walks contiguous rows: a
// dense layer runs GEMM, a sparse one CSR SpMM forward, SpMM with the transposed pattern for the
// input gradient and SDDMM for the weight gradient (only at kept weights). A sparse layer's weights
// and momentum live in CSR order during the epoch and are written back to the caller's dense arrays
// at its end (or when it stops early), so the caller always sees a consistent model.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../sparse/sparse.h"

namespace shears::cpu::train {

// A layer's buffers are the caller's (JS typed arrays): updated in place.
struct Layer {
  int64_t in = 0, out = 0;
  float* w = nullptr;       // [out, in] row-major (nn.Linear layout)
  float* b = nullptr;       // [out], or null for no bias
  uint8_t* mask = nullptr;  // [out * in], 1 = kept (required: pruning writes it)
  float* vw = nullptr;      // momentum of w, [out * in]
  float* vb = nullptr;      // momentum of b, [out]
  float* score = nullptr;   // accumulated criterion statistic [out * in], or null
  bool relu = false;        // ReLU after the affine map
  float dropout = 0.0f;     // dropout probability after the activation (training only)
  bool frozen = false;      // not updated (fine-tuning only the pruned layers)
  int execution = -1;       // -1: CSR when the kept fraction is at most sparse_below; 0: dense; 1: CSR
  // Optional activation statistics of the layer's outputs (after ReLU, before dropout), summed
  // over the training samples: |a| and the count of exact zeros (APoZ), one per output neuron.
  double* act_abs = nullptr;
  double* act_zero = nullptr;
};

// A teacher for distillation: weights only, no masks needed (entries are used as they are).
struct TeacherLayer {
  int64_t in = 0, out = 0;
  const float* w = nullptr;
  const float* b = nullptr;
  bool relu = false;
};

// Statistic accumulated into Layer::score at every step (g = dLoss/dw of the step's batch).
enum class Criterion { kNone, kGradient /* |g| */, kTaylor /* |w·g| */, kFisher /* g² */, kMovement /* -w·g */ };

// Before step `step` (0-based within the epoch): prune to the target sparsities. target[l] is the
// fraction of layer l's entries that are pruned afterwards (< 0: leave the layer alone); with
// `global`, the layers with target >= 0 share one threshold and their (equal) target is the
// fraction over all of them.
// Ranked by |w| (criterion kNone) or by the accumulated score. Masks only shrink.
struct PruneEvent {
  int64_t step = 0;
  bool global = false;
  std::vector<double> target;
};

// After step `step` (0-based within the epoch): dynamic sparse training's drop-and-grow with the
// given fraction of each layer's kept weights: RigL (grow by |dense gradient|) or SET (random).
struct RegrowEvent {
  int64_t step = 0;
  double fraction = 0;
  bool random = false;
};

struct Progress {
  int64_t step = 0, steps = 0;
  double loss = 0;            // running mean over the epoch so far
  double samples_per_second = 0;
};

struct EpochConfig {
  const float* x = nullptr;   // [samples, features] sample-major (as datasets store them)
  const int32_t* y = nullptr; // [samples], in [0, classes)
  int64_t samples = 0, batch = 0;
  const float* lr = nullptr;  // learning rate of every step of the epoch
  float momentum = 0, weight_decay = 0;
  bool nesterov = false;
  uint64_t seed = 0;          // shuffle and dropout of this epoch
  bool shuffle = true;
  Criterion criterion = Criterion::kNone;
  std::vector<PruneEvent> events;
  std::vector<RegrowEvent> regrow;  // sorted by step
  double sparse_below = 0.3;  // a layer whose kept fraction is at most this runs sparse (CSR)
  // Distillation: loss = alpha·CE + (1 - alpha)·T²·KL(softmax(t/T) ‖ softmax(s/T)).
  const std::vector<TeacherLayer>* teacher = nullptr;
  float alpha = 1.0f, temperature = 1.0f;
  // Before step `snapshot_step` (if >= 0) every layer's weights are copied to snapshot[l] and its
  // bias to snapshot_bias[l] where both exist (the lottery ticket's rewind point inside an epoch).
  int64_t snapshot_step = -1;
  std::vector<float*> snapshot, snapshot_bias;
  // Validation set, evaluated after every pruning event (accuracy in EpochResult::events).
  const float* val_x = nullptr;
  const int32_t* val_y = nullptr;
  int64_t val_n = 0;
  const int32_t* abort_flag = nullptr;  // nonzero: stop before the next step
  std::function<void(const Progress&)> progress;  // called at most every `progress_ms`
  int progress_ms = 100;
};

struct EventLog {
  int64_t step = 0;               // step of the epoch before which it ran
  std::vector<double> sparsity;   // per layer, right after it
  double accuracy = -1;           // on the validation set right after it (-1: none given)
};

struct EpochResult {
  double loss = 0;       // mean loss over the completed steps
  int64_t steps = 0;     // steps completed
  int64_t correct = 0;   // training samples classified correctly (before each step's update)
  int64_t seen = 0;      // samples in the completed steps
  bool aborted = false;
  std::vector<int> sparse_layers;  // 1 where the layer ran sparse at the end
  std::vector<EventLog> events;    // the pruning events that ran
};

// Runs one epoch. Throws RangeError (shears::Error) when the loss becomes NaN or infinite, naming
// the step; the model is then as after the previous step.
EpochResult run_epoch(std::vector<Layer>& layers, const EpochConfig& cfg);

// Inference: logits [n, classes] (sample-major) for x [n, features], in batches of `batch`.
// Layers with a kept fraction at most `sparse_below` run sparse; `cached` (one view per layer, null
// ptr where none) supplies a layer's CSR built earlier, so repeated calls skip building it.
void predict(const std::vector<Layer>& layers, const float* x, int64_t n, int64_t batch, double sparse_below,
             float* logits, const std::vector<CsrView>* cached = nullptr);

// Gradients of the mean cross-entropy over x [n, features] (one batch, no dropout, no update):
// dw[l] [out*in] (zero where masked) and db[l] [out]; returns the loss. For tests and tools.
double gradients(const std::vector<Layer>& layers, const float* x, const int32_t* y, int64_t n, bool sparse,
                 const std::vector<float*>& dw, const std::vector<float*>& db);

// One fused pass of masked SGD (momentum, Nesterov, weight decay, as torch.optim.SGD) over
// `count` entries; `mask` null means all kept. Reads w, g, v and the mask once, writes w and v
// once; pruned entries leave with w = v = +0. Multithreaded.
void masked_sgd(float* w, const float* g, float* v, const uint8_t* mask, int64_t count, float lr, float momentum,
                float wd, bool nesterov);

// Prunes now (as an event would inside an epoch), by |w| or by the accumulated scores.
void prune_now(std::vector<Layer>& layers, const PruneEvent& event, Criterion criterion);

// ---- The pieces of an epoch that the GPU epoch (native/cuda/train_epoch.cu) shares ----
// Entries the mask keeps.
int64_t kept_count(const Layer& l);
// Zeros the weights and momentum the mask prunes.
void apply_mask(Layer& l);
// Whether the layer runs CSR: its `execution`, else kept fraction <= sparse_below.
bool runs_sparse(const Layer& l, double sparse_below);
// Runs a pruning event on the host arrays; the log has each layer's sparsity right after it.
EventLog run_event(std::vector<Layer>& layers, const PruneEvent& event, Criterion criterion, int64_t step);
// Sets the validation accuracy (cfg.val_*) of events[from..] (nothing without a validation set).
void log_validation(const std::vector<Layer>& layers, const EpochConfig& cfg, std::vector<EventLog>& events, size_t from);
// The epoch's sample order (seeded Fisher-Yates, or identity without shuffle).
std::vector<int64_t> epoch_order(int64_t samples, uint64_t seed, bool shuffle);

// The epoch's dynamic-sparse-training events (cfg.regrow) and their random stream, shared by the
// CPU and GPU epochs: at(step) is the event due at this step (or null); run() drops the smallest
// kept weights and grows as many inactive ones (by largest |dense gradient|, RigL, or at random,
// SET) on the host arrays; end_step() skips events whose step has passed.
class RegrowSchedule {
 public:
  explicit RegrowSchedule(const EpochConfig& cfg);
  const RegrowEvent* at(int64_t step) const;
  // dense_grads[l]: layer l's gradient at every entry [out * in] (unused for random regrowth).
  void run(std::vector<Layer>& layers, const std::vector<std::vector<float>>& dense_grads);
  void end_step(int64_t step);

 private:
  const EpochConfig& cfg_;
  uint64_t rng_state_;
  size_t next_ = 0;
};

// The bookkeeping around each step that every epoch shares: abort, the lottery-ticket snapshot,
// the pruning events due (sorted by step), divergence, the result's counts and progress.
class EpochSteps {
 public:
  EpochSteps(std::vector<Layer>& layers, const EpochConfig& cfg, int64_t steps);
  // Before step `step`: false when the epoch is aborted. Takes the snapshot and runs the events due
  // on the caller's arrays: `sync` first brings them up to date, `replan` follows when masks changed.
  bool begin(int64_t step, const std::function<void()>& sync, const std::function<void()>& replan);
  // Throws RangeError naming the step when the step's summed loss is not finite.
  static void check_loss(double loss, int64_t step);
  // After a completed step of n samples.
  void end(int64_t step, int64_t n, double loss, int64_t correct);
  // The result with its mean loss.
  EpochResult finish();

 private:
  std::vector<Layer>& layers_;
  const EpochConfig& cfg_;
  int64_t steps_;
  std::vector<const PruneEvent*> events_;
  size_t next_event_ = 0;
  EpochResult result_;
  double loss_sum_ = 0;
  std::chrono::steady_clock::time_point start_, last_report_;
};
// Rows order[0..n) of x [samples, features] into a [features, n] (feature-major).
void gather_batch(const float* x, int64_t features, const int64_t* order, int64_t n, float* a);
// The CSR pattern of a layer's mask: row pointers, column indices and each entry's dense index.
void mask_pattern(const Layer& l, std::vector<int32_t>& ptr, std::vector<int32_t>& idx, std::vector<int64_t>& pos);

}  // namespace shears::cpu::train
