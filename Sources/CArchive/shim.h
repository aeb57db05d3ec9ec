// libarchive's reading and writing API (Debian: libarchive-dev). Its gzip, bzip2 and xz filters are compiled in
// and link zlib, libbz2 and liblzma themselves, so nothing else is linked here.
#include <archive.h>
#include <archive_entry.h>
