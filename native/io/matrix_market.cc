#include "matrix_market.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../core/errors.h"
#include "../core/thread_pool.h"

namespace shears::io {
namespace {

[[noreturn]] void fail(const std::string& name, int64_t line, const std::string& what) {
  throw_range_error("Invalid Matrix Market file " + name + ", line " + std::to_string(line) + ": " + what);
}

const char* line_end(const char* p, const char* end) {
  const void* q = std::memchr(p, '\n', static_cast<size_t>(end - p));
  return q ? static_cast<const char*>(q) : end;
}

inline bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// A line that holds no entry: blank, or a comment.
bool skip_line(const char* b, const char* e) {
  while (b < e && space(*b)) ++b;
  return b == e || *b == '%';
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> words(const char* b, const char* e) {
  std::vector<std::string> out;
  while (b < e) {
    while (b < e && space(*b)) ++b;
    const char* s = b;
    while (b < e && !space(*b)) ++b;
    if (b > s) out.emplace_back(s, b);
  }
  return out;
}

// Token readers over [p, e): skip blanks, parse, advance. false when no valid token.
bool read_int(const char*& p, const char* e, int64_t& v) {
  while (p < e && space(*p)) ++p;
  if (p < e && *p == '+') ++p;
  const auto r = std::from_chars(p, e, v);
  if (r.ec != std::errc() || (r.ptr < e && !space(*r.ptr))) return false;
  p = r.ptr;
  return true;
}

// Indices: plain decimal digits (at most 18), parsed directly (the hot path of coordinate files).
bool read_index(const char*& p, const char* e, int64_t& v) {
  while (p < e && space(*p)) ++p;
  if (p < e && *p == '+') ++p;
  const char* s = p;
  int64_t x = 0;
  while (p < e && static_cast<unsigned>(*p - '0') < 10u && p - s < 18) x = x * 10 + (*p++ - '0');
  if (p == s || (p < e && !space(*p))) return false;
  v = x;
  return true;
}

// A decimal number [begin, end) that from_chars found valid but beyond double's range: ±infinity
// when its magnitude is above 1, ±0 below (the position of its first non-zero digit plus the
// exponent says which).
double out_of_range_value(const char* p, const char* end) {
  const bool negative = p < end && *p == '-';
  if (p < end && (*p == '-' || *p == '+')) ++p;
  int64_t magnitude = 0;  // decimal exponent of the leading non-zero digit, up to an offset of 1
  bool seen_nonzero = false, after_point = false;
  for (; p < end && *p != 'e' && *p != 'E'; ++p) {
    if (*p == '.') {
      after_point = true;
    } else if (!seen_nonzero && *p == '0') {
      if (after_point) --magnitude;
    } else if (!seen_nonzero) {
      seen_nonzero = true;
    } else if (!after_point) {
      ++magnitude;
    }
  }
  if (p < end) {  // the exponent: saturate, its sign is what matters
    ++p;
    const bool negative_exp = p < end && *p == '-';
    if (p < end && (*p == '-' || *p == '+')) ++p;
    int64_t x = 0;
    for (; p < end && *p >= '0' && *p <= '9'; ++p) x = std::min<int64_t>(x * 10 + (*p - '0'), int64_t{1} << 40);
    magnitude += negative_exp ? -x : x;
  }
  const double value = magnitude > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  return negative ? -value : value;
}

bool read_value(const char*& p, const char* e, float& v, bool integer) {
  while (p < e && space(*p)) ++p;
  if (p < e && *p == '+') {  // from_chars takes no '+'; one is allowed, a second sign is not
    ++p;
    if (p < e && (*p == '-' || *p == '+')) return false;
  }
  if (integer) {
    int64_t i;
    const auto r = std::from_chars(p, e, i);
    if (r.ec != std::errc() || (r.ptr < e && !space(*r.ptr))) return false;
    v = static_cast<float>(i);
    p = r.ptr;
    return true;
  }
  const auto r = std::from_chars(p, e, v);
  if (r.ec == std::errc::result_out_of_range) {
    // from_chars reports overflow and underflow alike and then leaves the value unset: take the
    // double (which float rounds to inf or 0), or where the double is out of range too, infinity or
    // zero by the decimal magnitude of the text (as strtod and scipy do).
    double d = 0;
    const auto r2 = std::from_chars(p, e, d);
    if (r2.ec == std::errc::result_out_of_range) d = out_of_range_value(p, r2.ptr);
    else if (r2.ec != std::errc()) return false;
    v = static_cast<float>(d);
    p = r2.ptr;
    return r2.ptr == e || space(*r2.ptr);
  }
  if (r.ec != std::errc() || (r.ptr < e && !space(*r.ptr))) return false;
  p = r.ptr;
  return true;
}

bool at_line_end(const char* p, const char* e) {
  while (p < e && space(*p)) ++p;
  return p == e;
}

struct Chunk {
  const char* begin = nullptr;
  const char* end = nullptr;
  int64_t first_line = 0;   // 1-based line number of `begin`
  int64_t first_entry = 0;  // entries before this chunk
  int64_t entries = 0;
  int64_t lines = 0;
  std::vector<int32_t> r, c;
  std::vector<float> v;
  int64_t error_line = std::numeric_limits<int64_t>::max();
  std::string error;
};

}  // namespace

cpu::OwnedCsr parse_matrix_market(const char* data, int64_t size, const std::string& name, bool sum_duplicates,
                                  MatrixMarketInfo& info) {
  const char* const end = data + size;
  const char* p = data;
  int64_t line = 1;
  // Banner: %%MatrixMarket matrix <format> <field> <symmetry>
  const char* e = line_end(p, end);
  const std::vector<std::string> banner = words(p, e);
  if (banner.empty() || banner[0] != "%%MatrixMarket")
    fail(name, line, "the file does not start with the %%MatrixMarket banner");
  if (banner.size() != 5) fail(name, line, "the banner needs 5 words: %%MatrixMarket matrix <format> <field> <symmetry>");
  if (lower(banner[1]) != "matrix") fail(name, line, "object '" + banner[1] + "' is not 'matrix'");
  info.format = lower(banner[2]);
  info.field = lower(banner[3]);
  info.symmetry = lower(banner[4]);
  if (info.format != "coordinate" && info.format != "array") fail(name, line, "format '" + banner[2] + "' is not coordinate or array");
  if (info.field == "double") info.field = "real";
  if (info.field != "real" && info.field != "integer" && info.field != "pattern")
    fail(name, line, "field '" + banner[3] + "' is not supported (real, integer or pattern)");
  if (info.symmetry != "general" && info.symmetry != "symmetric" && info.symmetry != "skew-symmetric")
    fail(name, line, "symmetry '" + banner[4] + "' is not supported (general, symmetric or skew-symmetric)");
  if (info.format == "array" && info.field == "pattern") fail(name, line, "an array file cannot have the pattern field");
  const bool coordinate = info.format == "coordinate", pattern = info.field == "pattern",
             integer = info.field == "integer", symmetric = info.symmetry == "symmetric",
             skew = info.symmetry == "skew-symmetric";

  // Comments and blank lines, then the size line.
  p = e < end ? e + 1 : end;
  ++line;
  for (; p < end; p = e + 1, ++line) {
    e = line_end(p, end);
    if (!skip_line(p, e)) break;
    if (e == end) {
      p = end;
      break;
    }
  }
  if (p >= end) fail(name, line, "the size line is missing");
  int64_t rows, cols, stored;
  {
    const char* q = p;
    if (!read_int(q, e, rows) || !read_int(q, e, cols) || (coordinate && !read_int(q, e, stored)) || !at_line_end(q, e))
      fail(name, line, coordinate ? "the size line is not 'rows cols entries'" : "the size line is not 'rows cols'");
  }
  constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();
  if (rows < 0 || cols < 0 || rows > kMaxDim || cols > kMaxDim)
    fail(name, line, "dimensions " + std::to_string(rows) + " x " + std::to_string(cols) + " are outside [0, 2^31)");
  if ((symmetric || skew) && rows != cols) fail(name, line, "a symmetric matrix must be square");
  // CSR needs a row pointer per row: refuse sizes whose row pointers alone would take gigabytes
  // (a corrupted header must not exhaust memory).
  constexpr int64_t kMaxRows = int64_t{1} << 27;
  if (rows > kMaxRows)
    fail(name, line, std::to_string(rows) + " rows: this reader takes at most " + std::to_string(kMaxRows) + " rows");
  if (!coordinate) {
    const double n = symmetric ? static_cast<double>(rows) * (rows + 1) / 2
                     : skew   ? static_cast<double>(rows) * (rows - 1) / 2
                              : static_cast<double>(rows) * static_cast<double>(cols);
    stored = static_cast<int64_t>(n);
  }
  const int64_t data_line = line + 1;
  const char* body = e < end ? e + 1 : end;
  // Every entry takes at least 2 bytes ("1\n"), so a count beyond that is a lie: refuse it before
  // allocating anything for it.
  if (stored < 0 || static_cast<double>(stored) > static_cast<double>(end - body) / 2 + 1)
    fail(name, line, "the header promises " + std::to_string(stored) + " entries but only " +
                         std::to_string(end - body) + " bytes follow");
  info.entries = stored;

  // Line-aligned chunks; pass 1 counts lines and entries per chunk, pass 2 parses.
  ThreadPool& pool = ThreadPool::instance();
  const int64_t bytes = end - body;
  const int64_t nchunks = std::max<int64_t>(1, std::min<int64_t>(bytes / (1 << 16) + 1, pool.num_threads() * 8));
  std::vector<Chunk> chunks;
  const char* start = body;
  for (int64_t k = 1; k <= nchunks && start < end; ++k) {
    const char* stop = k == nchunks ? end : std::max(start, body + bytes * k / nchunks);
    if (stop < end) {
      const char* le = line_end(stop, end);  // extend to the end of the line it falls in
      stop = le < end ? le + 1 : end;
    }
    Chunk ch;
    ch.begin = start;
    ch.end = stop;
    chunks.push_back(std::move(ch));
    start = stop;
  }
  pool.run(static_cast<int64_t>(chunks.size()), [&](int64_t k, int) {
    Chunk& ch = chunks[static_cast<size_t>(k)];
    for (const char* q = ch.begin; q < ch.end;) {
      const char* le = line_end(q, ch.end);
      ++ch.lines;
      if (!skip_line(q, le)) ++ch.entries;
      q = le + 1;
    }
  });
  int64_t lines_so_far = data_line, entries_so_far = 0;
  for (Chunk& ch : chunks) {
    ch.first_line = lines_so_far;
    ch.first_entry = entries_so_far;
    lines_so_far += ch.lines;
    entries_so_far += ch.entries;
  }
  if (entries_so_far < stored)
    fail(name, lines_so_far - 1, "the header promises " + std::to_string(stored) + " entries but the file holds " +
                                     std::to_string(entries_so_far));

  pool.run(static_cast<int64_t>(chunks.size()), [&](int64_t k, int) {
    Chunk& ch = chunks[static_cast<size_t>(k)];
    const int64_t keep = std::max<int64_t>(0, std::min(ch.entries, stored - ch.first_entry));
    ch.r.resize(static_cast<size_t>(keep));
    ch.c.resize(static_cast<size_t>(keep));
    ch.v.resize(static_cast<size_t>(keep));
    size_t kept = 0;
    int64_t ln = ch.first_line, entry = ch.first_entry;
    // Array files with symmetry: the column holding `entry`, the entries before it, its length.
    const int64_t off = skew ? 1 : 0;
    int64_t col = 0, before = 0, len = rows - off;
    auto error = [&](const std::string& what) {
      ch.error_line = ln;
      ch.error = what;
    };
    for (const char* q = ch.begin; q < ch.end; ++ln) {
      const char* le = line_end(q, ch.end);
      const char* t = q;
      q = le + 1;
      if (skip_line(t, le)) continue;
      if (entry >= stored) {
        error("entry " + std::to_string(entry + 1) + " is more than the " + std::to_string(stored) + " the header promises");
        return;
      }
      int64_t i, j;
      float v = 1.0f;
      if (coordinate) {
        if (!read_index(t, le, i) || !read_index(t, le, j)) return error("expected 'row col" + std::string(pattern ? "'" : " value'") + " with integer indices");
        if (i < 1 || i > rows) return error("row index " + std::to_string(i) + " is outside [1, " + std::to_string(rows) + "]");
        if (j < 1 || j > cols) return error("column index " + std::to_string(j) + " is outside [1, " + std::to_string(cols) + "]");
        if (!pattern && !read_value(t, le, v, integer)) return error("the value is not a number");
        if (!at_line_end(t, le)) return error("unexpected text after the entry");
        if ((symmetric || skew) && j > i)
          return error("entry (" + std::to_string(i) + ", " + std::to_string(j) + ") is above the diagonal in a " + info.symmetry + " file");
        if (skew && i == j) return error("a skew-symmetric file cannot store a diagonal entry");
      } else {
        if (!read_value(t, le, v, integer)) return error("the value is not a number");
        if (!at_line_end(t, le)) return error("unexpected text after the value");
        // Column-major: the whole column (general), or its lower triangle (the column advances
        // as the chunk's consecutive entries run past it).
        if (symmetric || skew) {
          while (col < cols && entry >= before + len) {
            before += len;
            ++col;
            len = rows - col - off;
          }
          j = col + 1;
          i = col + off + (entry - before) + 1;
        } else {
          i = entry % std::max<int64_t>(rows, 1) + 1;
          j = entry / std::max<int64_t>(rows, 1) + 1;
        }
        if (v == 0.0f) {  // an array file stores zeros too; CSR keeps only the others
          ++entry;
          continue;
        }
      }
      ch.r[kept] = static_cast<int32_t>(i - 1);
      ch.c[kept] = static_cast<int32_t>(j - 1);
      ch.v[kept++] = v;
      ++entry;
    }
    ch.r.resize(kept);
    ch.c.resize(kept);
    ch.v.resize(kept);
  });
  const Chunk* bad = nullptr;
  for (const Chunk& ch : chunks)
    if (!ch.error.empty() && (!bad || ch.error_line < bad->error_line)) bad = &ch;
  if (bad) fail(name, bad->error_line, bad->error);

  // Concatenate in file order and expand the symmetric half.
  size_t total = 0, offdiag = 0;
  for (const Chunk& ch : chunks) {
    total += ch.r.size();
    if (symmetric || skew)
      for (size_t k = 0; k < ch.r.size(); ++k) offdiag += ch.r[k] != ch.c[k];
  }
  std::vector<int32_t> r, c;
  std::vector<float> v;
  r.reserve(total + offdiag);
  c.reserve(total + offdiag);
  v.reserve(total + offdiag);
  for (const Chunk& ch : chunks) {
    r.insert(r.end(), ch.r.begin(), ch.r.end());
    c.insert(c.end(), ch.c.begin(), ch.c.end());
    v.insert(v.end(), ch.v.begin(), ch.v.end());
  }
  chunks.clear();
  if (symmetric || skew)
    for (size_t k = 0; k < total; ++k)
      if (r[k] != c[k]) {
        r.push_back(c[k]);
        c.push_back(r[k]);
        v.push_back(skew ? -v[k] : v[k]);
      }
  if (!sum_duplicates && coordinate) {
    // duplicates: 'error': name the file line of the first entry that repeats an earlier one (its
    // mirror image included, for symmetric files), in the file's 1-based coordinates.
    std::unordered_set<uint64_t> seen;
    seen.reserve(total);
    const auto key = [](int32_t i, int32_t j) { return (static_cast<uint64_t>(static_cast<uint32_t>(i)) << 32) | static_cast<uint32_t>(j); };
    for (size_t k = 0; k < total; ++k) {
      if (seen.insert(key(r[k], c[k])).second) continue;
      int64_t ln = data_line, entry = -1;
      for (const char* q = body; q < end; ++ln) {
        const char* le = line_end(q, end);
        if (!skip_line(q, le) && ++entry == static_cast<int64_t>(k)) break;
        q = le + 1;
      }
      fail(name, ln, "entry (" + std::to_string(r[k] + 1) + ", " + std::to_string(c[k] + 1) +
                         ") repeats an earlier entry (duplicates: 'error'; the default 'sum' adds them)");
    }
  }
  return cpu::csr_from_coo(rows, cols, r.data(), c.data(), v.data(), static_cast<int64_t>(r.size()), sum_duplicates);
}

}  // namespace shears::io
