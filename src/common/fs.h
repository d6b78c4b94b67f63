// File helpers: whole-file reads with errors that name the file, and atomic writes (temp file
// beside the target, fsync, rename, fsync of the folder) so a crash never leaves a half file.
#pragma once
#include <string>
#include <vector>

namespace nxt {

std::vector<char> read_file_bytes(const std::string& path);
std::string read_file_text(const std::string& path);

// Replaces `path` atomically with `bytes`; on any failure the old file is untouched.
// `pause_before_publish_s` is a test hook (checkpoint.cpp's NXT_PAUSE_IN_CHECKPOINT_WRITE_S): it
// sleeps with the temp file complete and the old file still in place, so that a test can kill
// the writer exactly there. `mode`: the new file's permissions (before the umask).
void write_file_atomic(const std::string& path, const void* bytes, size_t size,
                       double pause_before_publish_s = 0, unsigned mode = 0644);
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

// The two halves of an atomic write, for writers that produce the temp file themselves (HDF5):
// a temp name beside `path`, and the fsync + rename + folder fsync that publishes it.
std::string temp_path_for(const std::string& path);
void publish_temp_file(const std::string& temp, const std::string& path);

// Publishes `path` as a second name of the already published file `existing` (a hard link, made
// under a temp name and renamed into place, so `path` is replaced atomically), without writing
// its bytes again. Replacing either name later (an atomic write renames a new file over it)
// leaves the other as it was. Returns false, with `path` untouched, where the file system makes
// no hard links (a FUSE or object store mount, another device): the caller writes the bytes.
// `pause_before_publish_s`: as write_file_atomic's.
bool publish_as_link(const std::string& existing, const std::string& path,
                     double pause_before_publish_s = 0);

// The text of error number `err` (default: errno), safe on any thread (strerror is not: the
// checkpoint writer, the node copy and the loader's readers fail on threads of their own).
std::string errno_text(int err);
std::string errno_text();

// Creates `dir` and its parents; an error names the folder and the reason.
void make_dirs(const std::string& dir);

}  // namespace nxt
