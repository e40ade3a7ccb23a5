//! End-to-end encrypted sessions between two nodes (filled in next).
