//! Addresses and routes over rtnetlink (filled in next).
