/*
 * facesim command-line tool: dispatches to one subcommand per file (compare.c,
 * detect.c, embed.c, video.c, pairs.c, dirs.c, merge.c). Results go to standard
 * output or -o FILE, diagnostics to standard error. The shared options are parsed
 * in options.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "facesim.h"
#include "options.h"

int cli_compare_main(int argc, char **argv);
int cli_detect_main(int argc, char **argv);
int cli_embed_main(int argc, char **argv);
int cli_pairs_main(int argc, char **argv);
int cli_dirs_main(int argc, char **argv);
int cli_merge_main(int argc, char **argv);
int cli_video_main(int argc, char **argv);

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_commands[] = {
    { "compare", cli_compare_main, "cosine similarity and same-person decision for two images" },
    { "detect", cli_detect_main, "face boxes, scores and landmarks; annotated image and crops" },
    { "embed", cli_embed_main, "one embedding per image as npy, csv or jsonl" },
    { "pairs", cli_pairs_main, "batch comparison of the image pairs listed in a CSV or TSV file" },
    { "dirs", cli_dirs_main, "batch comparison of generated images with references by file name" },
    { "merge", cli_merge_main, "join the --json outputs of sharded pairs or dirs runs" },
    { "video", cli_video_main, "per-frame similarity of a video to a reference face" },
};

#define CLI_COMMAND_COUNT (sizeof cli_commands / sizeof cli_commands[0])

static void cli_print_usage(FILE *out)
{
    fprintf(out,
            "Usage: facesim <command> [options] [inputs]\n"
            "       facesim <command> --help\n"
            "       facesim --version\n"
            "\n"
            "Measures face identity similarity (CSIM): detects faces, aligns them to the\n"
            "112x112 ArcFace template, embeds them and compares embeddings by cosine, as\n"
            "insightface does.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < CLI_COMMAND_COUNT; i++)
        fprintf(out, "  %-9s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(out,
            "\n"
            "Model pack: --models DIR, else $FACESIM_MODELS, else models/default in the\n"
            "source tree facesim was built from, else ./models/default.\n"
            "\n"
            "Exit codes:\n"
            "  0    success\n"
            "  1    several inputs were given and some failed (the rest were processed)\n"
            "  2    usage error\n"
            "  3    no face found\n"
            "  4    unreadable or invalid input (missing, corrupt, too large)\n"
            "  5    model pack error\n"
            "  6    internal error (out of memory, failed output write, bug)\n"
            "  130  pairs or dirs stopped by Ctrl-C (the output holds the rows done)\n"
            "\n"
            "Examples:\n"
            "  facesim compare original.jpg generated.png\n"
            "  facesim compare --json --threshold 0.3 a.jpg b.jpg\n"
            "  facesim detect --draw faces.png --save-crops crops/ photo.jpg\n"
            "  facesim embed -o embeddings.npy *.jpg\n"
            "  facesim video --fps 2 --plot timeline.svg portrait.jpg clip.mp4\n"
            "  facesim pairs --json -o result.json pairs.csv\n"
            "  facesim dirs references/ generated/\n"
            "  facesim merge -o result.json part1.json part2.json\n"
            "\n"
            "Run 'facesim <command> --help' for a command's options.\n");
}

/*
 * Restarts the program with GOMP_SPINCOUNT=0 unless the user chose an OpenMP wait
 * policy. oneDNN's threads wait at every barrier, and libgomp's default spins 300,000
 * times before it sleeps. When other processes hold the cores, that spinning made
 * 2-thread runs 10 to 100 times slower than 1 thread (measured with bench/bench_engine
 * on a loaded 2-core machine). libgomp reads these variables only at start-up, hence
 * the restart. On an idle machine spinning saves about 1 ms per inference, so users can
 * set OMP_WAIT_POLICY=active to get it back.
 */
static void cli_restart_without_spinning(char **argv)
{
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY"))
        return;
    if (setenv("GOMP_SPINCOUNT", "0", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* execv returned: keep running with the default policy. */
}

int main(int argc, char **argv)
{
    cli_restart_without_spinning(argv);
    if (argc < 2) {
        cli_print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
        strcmp(command, "help") == 0) {
        cli_print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "-V") == 0) {
        printf("facesim %s\n", facesim_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < CLI_COMMAND_COUNT; i++)
        if (strcmp(command, cli_commands[i].name) == 0)
            return cli_commands[i].run(argc - 1, argv + 1);

    fprintf(stderr, "facesim: unknown command '%s'. Commands:", command);
    for (size_t i = 0; i < CLI_COMMAND_COUNT; i++)
        fprintf(stderr, "%s %s", i == 0 ? "" : ",", cli_commands[i].name);
    fprintf(stderr, ". Run 'facesim --help' for usage.\n");
    return CLI_EXIT_USAGE;
}
