// Included by every AVX2 test file (*_avx2_*_test.cpp): they must be compiled for x86-64-v3
// without AVX-512 (tests/CMakeLists.txt), so that a use of AVX-512 in their code path does not
// compile; built otherwise, they stop here.
#pragma once

#if defined(__AVX512F__) || !defined(__AVX2__)
#error "This test must be compiled for x86-64-v3 without AVX-512 (see tests/CMakeLists.txt)."
#endif
