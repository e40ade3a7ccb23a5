//! Sliding replay window over 64-bit message counters (filled in next).
