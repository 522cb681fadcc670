/*
 * http_time.c - format and parse IMF-fixdate; the current time as HTTP and
 * as the Common Log Format write it, cached per thread for a second.
 *
 * Formatting by hand, not strftime: names of days and months must be
 * English whatever the locale, and this runs on every response.
 */
#include <string.h>
#include <time.h>

#include "http_time.h"

static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
	"Sep", "Oct", "Nov", "Dec" };

/* Per thread: models with threads format their own, without locks. */
static _Thread_local time_t now_date_t = -1, now_clf_t = -1;
static _Thread_local char now_date[HTTP_DATE_LEN + 1], now_clf[HTTP_CLF_LEN + 1];

/* N decimal digits of V at P, zero-padded. */
static char *
http_time_put(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

static char *
http_time_str(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* TM of a year HTTP can say (0..9999), or of 1900. */
static void
http_time_tm(time_t t, struct tm *tm)
{
	if (gmtime_r(&t, tm) == NULL || tm->tm_year + 1900 > 9999 || tm->tm_year + 1900 < 0)
		*tm = (struct tm){ .tm_mday = 1 };
}

void
http_time_format(time_t t, char buf[HTTP_DATE_LEN + 1])
{
	struct tm tm;
	char *p = buf;

	http_time_tm(t, &tm);
	p = http_time_str(p, days[tm.tm_wday], 3);
	p = http_time_str(p, ", ", 2);
	p = http_time_put(p, tm.tm_mday, 2);
	*p++ = ' ';
	p = http_time_str(p, months[tm.tm_mon], 3);
	*p++ = ' ';
	p = http_time_put(p, tm.tm_year + 1900, 4);
	*p++ = ' ';
	p = http_time_put(p, tm.tm_hour, 2);
	*p++ = ':';
	p = http_time_put(p, tm.tm_min, 2);
	*p++ = ':';
	p = http_time_put(p, tm.tm_sec, 2);
	memcpy(p, " GMT", 5);
}

static bool
http_time_digits(const char *s, int n, int *v_r)
{
	*v_r = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v_r = *v_r * 10 + (s[i] - '0');
	}
	return true;
}

/* IMF-fixdate only: the obsolete forms are rare, and a date we cannot read
 * only costs a full response instead of a 304. */
bool
http_time_parse(const char *s, size_t len, time_t *t_r)
{
	struct tm tm = { 0 };
	int mon = -1;

	if (len != HTTP_DATE_LEN || memcmp(s + 3, ", ", 2) != 0 || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
		return false;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 8, months[i], 3) == 0)
			mon = i;
	if (mon < 0 || !http_time_digits(s + 5, 2, &tm.tm_mday) ||
	    !http_time_digits(s + 12, 4, &tm.tm_year) || !http_time_digits(s + 17, 2, &tm.tm_hour) ||
	    !http_time_digits(s + 20, 2, &tm.tm_min) || !http_time_digits(s + 23, 2, &tm.tm_sec))
		return false;
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60 || tm.tm_year < 1970)
		return false;
	tm.tm_mon = mon;
	tm.tm_year -= 1900;
	*t_r = timegm(&tm);
	return *t_r != (time_t)-1;
}

/* The Date header's value for now. */
const char *
http_time_now(void)
{
	time_t t = time(NULL);

	if (t != now_date_t) {
		http_time_format(t, now_date);
		now_date_t = t;
	}
	return now_date;
}

/* Now as the access log writes it: dd/Mon/yyyy:HH:MM:SS +0000. */
const char *
http_time_clf(void)
{
	time_t t = time(NULL);
	struct tm tm;
	char *p = now_clf;

	if (t == now_clf_t)
		return now_clf;
	http_time_tm(t, &tm);
	p = http_time_put(p, tm.tm_mday, 2);
	*p++ = '/';
	p = http_time_str(p, months[tm.tm_mon], 3);
	*p++ = '/';
	p = http_time_put(p, tm.tm_year + 1900, 4);
	*p++ = ':';
	p = http_time_put(p, tm.tm_hour, 2);
	*p++ = ':';
	p = http_time_put(p, tm.tm_min, 2);
	*p++ = ':';
	p = http_time_put(p, tm.tm_sec, 2);
	memcpy(p, " +0000", 7);
	now_clf_t = t;
	return now_clf;
}
