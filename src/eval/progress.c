#include "eval/progress.h"

#include <time.h>
#include <unistd.h>

/* Seconds between redraws: often enough to look live, rarely enough to cost nothing. */
#define FS_PROGRESS_INTERVAL_S 0.2
#define FS_PROGRESS_BAR_WIDTH 24

static double fs_progress_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void fs_progress_init(fs_progress *progress, FILE *out, bool enable, const char *label,
                      const char *unit, uint64_t total)
{
    *progress = (fs_progress){
        .out = out,
        .enabled = enable && out && isatty(fileno(out)),
        .label = label ? label : "",
        .unit = unit ? unit : "items",
        .total = total,
        .start_s = fs_progress_now(),
        .last_draw_s = -1.0,
    };
}

/* Formats seconds as M:SS or H:MM:SS. */
static void fs_progress_format_time(double seconds, char *buffer, size_t size)
{
    if (!(seconds >= 0.0) || seconds > 359999.0) {
        snprintf(buffer, size, "--:--");
        return;
    }
    long whole = (long)(seconds + 0.5);
    if (whole >= 3600)
        snprintf(buffer, size, "%ld:%02ld:%02ld", whole / 3600, whole / 60 % 60, whole % 60);
    else
        snprintf(buffer, size, "%ld:%02ld", whole / 60, whole % 60);
}

static void fs_progress_draw(fs_progress *progress, double now)
{
    double elapsed = now - progress->start_s;
    double rate = elapsed > 0.0 ? (double)progress->done / elapsed : 0.0;
    char line[256];
    if (progress->total > 0) {
        uint64_t done = progress->done < progress->total ? progress->done : progress->total;
        int filled = (int)(done * FS_PROGRESS_BAR_WIDTH / progress->total);
        char bar[FS_PROGRESS_BAR_WIDTH + 1];
        for (int i = 0; i < FS_PROGRESS_BAR_WIDTH; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[FS_PROGRESS_BAR_WIDTH] = '\0';
        char eta[32];
        double remaining = rate > 0.0 ? (double)(progress->total - done) / rate : -1.0;
        fs_progress_format_time(remaining, eta, sizeof eta);
        snprintf(line, sizeof line, "%.60s [%s] %llu/%llu %s, %.1f/s, ETA %s",
                 progress->label, bar, (unsigned long long)done,
                 (unsigned long long)progress->total, progress->unit, rate, eta);
    } else {
        char spent[32];
        fs_progress_format_time(elapsed, spent, sizeof spent);
        snprintf(line, sizeof line, "%.60s %llu %s, %.1f/s, %s elapsed", progress->label,
                 (unsigned long long)progress->done, progress->unit, rate, spent);
    }
    /* "\033[K" erases the rest of the line left over from a longer earlier draw. */
    fprintf(progress->out, "\r%s\033[K", line);
    fflush(progress->out);
    progress->drawn = true;
    progress->last_draw_s = now;
}

void fs_progress_update(fs_progress *progress, uint64_t done)
{
    progress->done = done;
    if (!progress->enabled)
        return;
    double now = fs_progress_now();
    if (progress->last_draw_s >= 0.0 && now - progress->last_draw_s < FS_PROGRESS_INTERVAL_S &&
        !(progress->total > 0 && done >= progress->total))
        return;
    fs_progress_draw(progress, now);
}

void fs_progress_clear(fs_progress *progress)
{
    if (!progress->enabled || !progress->drawn)
        return;
    fprintf(progress->out, "\r\033[K");
    fflush(progress->out);
    progress->drawn = false;
    progress->last_draw_s = -1.0;
}

void fs_progress_finish(fs_progress *progress)
{
    fs_progress_clear(progress);
    progress->enabled = false;
}
