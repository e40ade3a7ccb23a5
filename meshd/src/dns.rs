//! The `.mesh` DNS responder (filled in next).
