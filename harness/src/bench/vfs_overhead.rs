//! `bench vfs-overhead`: the cost of the fault VFS with nothing armed.
