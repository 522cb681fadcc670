/*
 * shm.c - shared memory backed by a memfd (shm.h).
 *
 * The descriptor is close-on-exec like every other; upgrade.c clears the
 * flag on the ones it hands over, for the one execve that takes them.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "shm.h"

/* A zeroed shared region of SIZE bytes, and its memfd in *FD_R; NULL
 * (errno set) when the system refuses. */
void *
shm_create(const char *name, size_t size, int *fd_r)
{
	void *p;
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd == -1)
		return NULL;
	if (ftruncate(fd, (off_t)size) == -1)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	*fd_r = fd;
	return p;
fail:
	{
		int e = errno;

		close(fd);
		errno = e;
	}
	return NULL;
}

/* Map a region another image made, whole; NULL (errno set) when FD is
 * not one of at least MIN bytes. */
void *
shm_adopt(int fd, size_t min, size_t *size_r)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) == -1)
		return NULL;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (size_t)st.st_size < min) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*size_r = (size_t)st.st_size;
	return p;
}
