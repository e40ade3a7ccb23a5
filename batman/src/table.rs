//! A bounded slab keyed by MAC: stable indices, O(1) lookup, deterministic
//! iteration order (by slot), capacity that never grows past its cap.

use crate::wire::Mac;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A tiny deterministic hasher for MAC keys: keys hash as one `u64` (see
/// `Mac`'s `Hash`) and an interface byte, mixed by a multiply-xorshift.
/// Iteration never goes through the map, so its order does not matter;
/// determinism keeps runs reproducible anyway.
#[derive(Default, Clone, Copy)]
pub struct MacHasher(u64);

impl MacHasher {
    #[inline]
    fn mix(&mut self, v: u64) {
        let x = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }
}

impl Hasher for MacHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.mix(v as u64 | 0x100);
    }
    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }
}

type Index<K> = HashMap<K, u32, BuildHasherDefault<MacHasher>>;

/// Slots of `T` keyed by `K`, at most `cap` of them.
pub struct Slab<K: Copy + Eq + std::hash::Hash, T> {
    slots: Vec<Option<(K, T)>>,
    free: Vec<u32>,
    index: Index<K>,
    cap: usize,
}

impl<K: Copy + Eq + std::hash::Hash, T> Slab<K, T> {
    pub fn new(cap: usize) -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::default(),
            cap,
        }
    }
    pub fn len(&self) -> usize {
        self.index.len()
    }
    pub fn is_full(&self) -> bool {
        self.len() >= self.cap
    }
    pub fn find(&self, k: &K) -> Option<usize> {
        self.index.get(k).map(|i| *i as usize)
    }
    pub fn get(&self, i: usize) -> Option<&T> {
        self.slots.get(i).and_then(|s| s.as_ref()).map(|(_, t)| t)
    }
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.slots
            .get_mut(i)
            .and_then(|s| s.as_mut())
            .map(|(_, t)| t)
    }
    pub fn key(&self, i: usize) -> Option<K> {
        self.slots.get(i).and_then(|s| s.as_ref()).map(|(k, _)| *k)
    }
    /// Insert under a new key; `None` when full or the key exists.
    pub fn insert(&mut self, k: K, t: T) -> Option<usize> {
        if self.is_full() || self.index.contains_key(&k) {
            return None;
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some((k, t));
                i as usize
            }
            None => {
                if self.slots.len() == self.slots.capacity() {
                    // Grow geometrically but never past the cap.
                    let want = self.slots.len().max(8).min(self.cap - self.slots.len());
                    self.slots.reserve_exact(want);
                    self.free.reserve_exact(want);
                }
                self.slots.push(Some((k, t)));
                self.slots.len() - 1
            }
        };
        if self.index.len() == self.index.capacity() {
            let want = self.index.len().max(8).min(self.cap - self.index.len());
            self.index.reserve(want);
        }
        self.index.insert(k, i as u32);
        Some(i)
    }
    pub fn remove(&mut self, i: usize) -> Option<T> {
        let (k, t) = self.slots.get_mut(i)?.take()?;
        self.index.remove(&k);
        self.free.push(i as u32);
        Some(t)
    }
    /// Occupied slot indices, in slot order.
    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|_| i))
    }
    pub fn iter(&self) -> impl Iterator<Item = (usize, &K, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|(k, t)| (i, k, t)))
    }
    /// Bytes held by the slot vector, the free list and the index, from
    /// their capacities (the index estimated as hashbrown lays it out:
    /// one control byte plus the entry per bucket, buckets a power of two
    /// at 7/8 load).
    pub fn heap_bytes(&self) -> usize {
        let buckets = (self.index.capacity() * 8 / 7).next_power_of_two();
        self.slots.capacity() * core::mem::size_of::<Option<(K, T)>>()
            + self.free.capacity() * 4
            + buckets * (1 + core::mem::size_of::<(K, u32)>())
    }
    /// Worst case of `heap_bytes` at the cap.
    pub fn heap_bound(cap: usize) -> usize {
        let buckets = ((cap.max(8) * 8 / 7) + 1).next_power_of_two() * 2;
        cap.max(8) * (core::mem::size_of::<Option<(K, T)>>() + 4)
            + buckets * (1 + core::mem::size_of::<(K, u32)>())
    }
}

/// Key of a neighbour link: our interface and the neighbour's MAC.
pub type LinkKey = (u8, Mac);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_insert_remove_reuse() {
        let mut s: Slab<Mac, u32> = Slab::new(3);
        let a = s.insert(Mac([2, 0, 0, 0, 0, 1]), 1).unwrap();
        let b = s.insert(Mac([2, 0, 0, 0, 0, 2]), 2).unwrap();
        assert!(s.insert(Mac([2, 0, 0, 0, 0, 2]), 9).is_none());
        let _c = s.insert(Mac([2, 0, 0, 0, 0, 3]), 3).unwrap();
        assert!(s.insert(Mac([2, 0, 0, 0, 0, 4]), 4).is_none());
        assert_eq!(s.remove(b), Some(2));
        assert_eq!(s.find(&Mac([2, 0, 0, 0, 0, 2])), None);
        let d = s.insert(Mac([2, 0, 0, 0, 0, 4]), 4).unwrap();
        assert_eq!(d, b);
        assert_eq!(s.get(a), Some(&1));
        assert_eq!(s.ids().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(s.slots.capacity() <= 3);
        assert!(s.heap_bytes() <= Slab::<Mac, u32>::heap_bound(3));
    }
}
