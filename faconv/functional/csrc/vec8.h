/* 8-wide float vectors of the GCC/Clang vector extension (AVX on x86-64, two NEON/SSE
   registers elsewhere), shared by faconv's C kernels. Unaligned loads and stores go through
   memcpy, which compilers turn into single vector moves. */
#ifndef FACONV_VEC8_H
#define FACONV_VEC8_H

#include <stdint.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

static inline v8f ld8(const float* p) {
  v8f v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void st8(float* p, v8f v) { memcpy(p, &v, sizeof v); }

#endif
