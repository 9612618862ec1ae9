#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
inline void xsTrace(const char* what) {
    static auto t0 = std::chrono::steady_clock::now();
    if (!std::getenv("XS_TRACE")) return;
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "[trace %8.1f ms] %s\n", ms, what);
}
