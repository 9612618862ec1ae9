// Handover benchmark: `xunshenctl handover export` and `handover import` of one inspection, side
// by side with Debian's `age -r` / `age -d` on the same evidence bytes, in the same run.
// Everything runs through the real CLI in child processes; each child's wall time and its own peak
// RSS (wait4 on that pid, ru_maxrss) are measured. docs/BENCHMARKS.md has the figures.
//
// Set-up (not timed), through the CLI only:
//   office   init --role audit_office, org create-office-key, identity export-age
//   insp     init --role working_group_lead, org import, inspection create, identity export;
//            the office enrols the device and exports the enrolment; insp accepts it
//   evidence incompressible pseudo-random bytes, every file distinct (no deduplication):
//            half the budget as one "photo" per finding, the other half as 16 MiB "videos"
//            attached to the first findings; also concatenated, in the same order, into plain.bin
//   findings `finding import` of a JSONL file naming the evidence paths (one commit per line)
// Timed, alternating the order of the two sides every round:
//   export   xunshenctl --store insp handover export --inspection ID --out bundle-N.xsbundle
//   age -r   age -r <office recipient> -o plain-N.age plain.bin   (the same evidence bytes)
//   import   xunshenctl --store office-N handover import bundle-N.xsbundle (office-N is a fresh
//            copy of the office store: a second import of a bundle is a no-op)
//   age -d   age -d -i office.agekey -o plain-N.out plain-N.age
// Every child is preceded by sync(2) so it does not pay for the previous one's writeback, then by
// dropping every file of the run from the page cache and (--cache warm) reading its own input back
// in; the default, cold, leaves both sides' inputs on disk, as a bundle on a USB stick is. Every
// round writes fresh files: nothing is deleted before the end (deletions on a filesystem mounted
// with online discard slow down the next fsyncs). The product fsyncs what it writes and age does
// not, so the fsync of age's output is timed separately and shown too (not in the target ratio).
// Checked: the import's summary, `finding list` on the office shows every finding, the last round's
// office `verify` passes with every evidence file, and age -d gives back plain.bin's SHA-256.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/model.h"
#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::uint64_t kVideoBytes = 16 * kMiB;
const char* kPass = "bench passphrase 巡审";
std::filesystem::path g_removeOnFailure;  // the work dir, unless --keep

[[noreturn]] void die(const std::string& what) {
    std::cerr << "bench_handover: " << what << "\n";
    if (!g_removeOnFailure.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(g_removeOnFailure, ec);
    }
    std::exit(1);
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

double tvMs(const timeval& t) { return static_cast<double>(t.tv_sec) * 1000.0 + static_cast<double>(t.tv_usec) / 1000.0; }

struct ChildRun {
    int exitCode = -1;
    double wallMs = 0;
    double maxRssMiB = 0;  // ru_maxrss of this child alone
    double userMs = 0;
    double sysMs = 0;
    std::string out;
    std::string err;
};

std::string readAll(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// fork/exec one program with stdout and stderr going to files under `scratch`; waits for that pid
// with wait4 so the resource usage is the child's own (not RUSAGE_CHILDREN's running total).
ChildRun spawn(const std::vector<std::string>& args, const fs::path& scratch) {
    fs::path outPath = scratch / "child.out", errPath = scratch / "child.err";
    int outFd = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int errFd = ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (outFd < 0 || errFd < 0) die("cannot create " + outPath.string());
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ChildRun r;
    auto t0 = Clock::now();
    pid_t pid = fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(outFd, 1);
        dup2(errFd, 2);
        setsid();  // no controlling terminal: the CLI never prompts
        execvp(argv[0], argv.data());
        std::fprintf(stderr, "cannot execute %s: %s\n", argv[0], std::strerror(errno));
        _exit(127);
    }
    int status = 0;
    rusage ru{};
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) die("wait4 failed");
    }
    r.wallMs = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    ::close(outFd);
    ::close(errFd);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.maxRssMiB = static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
    r.userMs = tvMs(ru.ru_utime);
    r.sysMs = tvMs(ru.ru_stime);
    r.out = readAll(outPath);
    r.err = readAll(errPath);
    return r;
}

// Every regular file of `p` (a file, or a directory walked recursively).
std::vector<fs::path> filesOf(const fs::path& p) {
    std::vector<fs::path> out;
    if (fs::is_regular_file(p)) out.push_back(p);
    else if (fs::is_directory(p))
        for (const auto& e : fs::recursive_directory_iterator(p))
            if (e.is_regular_file()) out.push_back(e.path());
    return out;
}

// Before each timed step, the same for both sides: every file of the run (`all`: earlier rounds'
// bundles, age files, stores) leaves the page cache (POSIX_FADV_DONTNEED, after sync(2) made its
// pages clean), so no step pays to reclaim another's cache; then "warm" reads the step's inputs
// whole, "cold" leaves them on disk. Returns the fraction of the inputs' bytes resident when the
// step starts (mincore), which is reported.
double setCache(const fs::path& all, const std::vector<fs::path>& inputs, bool warm) {
    for (const auto& f : filesOf(all)) {
        int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;  // a file the last child was removing
        if (::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) die("posix_fadvise failed on " + f.string());
        ::close(fd);
    }
    std::uint64_t total = 0, resident = 0;
    const long page = ::sysconf(_SC_PAGESIZE);
    std::vector<char> buf(1 << 20);
    for (const auto& root : inputs) {
        for (const auto& f : filesOf(root)) {
            int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) die("cannot open " + f.string());
            if (warm) {
                while (::read(fd, buf.data(), buf.size()) > 0) {
                }
            }
            struct stat st{};
            ::fstat(fd, &st);
            const auto size = static_cast<std::size_t>(st.st_size);
            total += size;
            if (size > 0) {
                void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
                if (m == MAP_FAILED) die("cannot map " + f.string());
                std::vector<unsigned char> vec((size + static_cast<std::size_t>(page) - 1) / static_cast<std::size_t>(page));
                if (::mincore(m, size, vec.data()) == 0)
                    for (auto v : vec) resident += (v & 1) ? static_cast<std::uint64_t>(page) : 0;
                ::munmap(m, size);
            }
            ::close(fd);
        }
    }
    return total == 0 ? 0.0 : static_cast<double>(std::min(resident, total)) / static_cast<double>(total);
}

// Runs a set-up or checking step that must succeed.
ChildRun must(const std::vector<std::string>& args, const fs::path& scratch) {
    ChildRun r = spawn(args, scratch);
    if (r.exitCode != 0) {
        std::string cmd;
        for (const auto& a : args) cmd += a + " ";
        die("failed (exit " + std::to_string(r.exitCode) + "): " + cmd + "\n" + r.err);
    }
    return r;
}

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string hashFile(const fs::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot read " + p.string());
    xs::crypto::Sha256 h;
    std::vector<std::uint8_t> buf(kMiB);
    for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("cannot read " + p.string());
        if (n == 0) break;
        h.update(xs::crypto::ByteView(buf.data(), static_cast<std::size_t>(n)));
    }
    ::close(fd);
    return xs::crypto::toHex(h.finish());
}

double fsyncFileMs(const fs::path& p) {
    auto t0 = Clock::now();
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) die("cannot fsync " + p.string());
    ::close(fd);
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Incompressible, distinct per seed, and fast (xoshiro256**): the generator must not dominate set-up.
struct Rng {
    std::uint64_t s[4];
    explicit Rng(std::uint64_t seed) {
        for (auto& x : s) {  // splitmix64
            seed += 0x9e3779b97f4a7c15ULL;
            std::uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            x = z ^ (z >> 31);
        }
    }
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t next() {
        std::uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
        return r;
    }
};

void writeAllFd(int fd, const std::uint8_t* p, std::size_t n, const fs::path& what) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) die("cannot write " + what.string());
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

struct Evidence {
    fs::path path;
    std::uint64_t size;
    int finding;  // index of the finding it is attached to
};

// Plans the evidence mix: half the budget as one photo per finding, the rest as 16 MiB videos
// (the last one shorter) attached to findings 0, 1, 2, ...
std::vector<Evidence> planEvidence(const fs::path& dir, std::uint64_t totalBytes, int findings) {
    std::vector<Evidence> plan;
    std::uint64_t photo = findings > 0 ? totalBytes / 2 / static_cast<std::uint64_t>(findings) : 0;
    std::uint64_t rest = totalBytes - photo * static_cast<std::uint64_t>(findings);
    for (int i = 0; i < findings && photo > 0; ++i)
        plan.push_back({dir / ("photo-" + std::to_string(i) + ".jpg"), photo, i});
    for (int v = 0; rest > 0; ++v) {
        std::uint64_t n = std::min(rest, kVideoBytes);
        plan.push_back({dir / ("video-" + std::to_string(v) + ".mp4"), n, findings > 0 ? v % findings : 0});
        rest -= n;
    }
    return plan;
}

// Writes every evidence file and their concatenation (plain.bin, age's input); returns its SHA-256.
std::string writeEvidence(const std::vector<Evidence>& plan, const fs::path& plainPath) {
    int plain = ::open(plainPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (plain < 0) die("cannot create " + plainPath.string());
    xs::crypto::Sha256 h;
    std::vector<std::uint64_t> buf(kMiB / 8);
    std::uint64_t seed = 0x5853484200000000ULL;
    for (const auto& e : plan) {
        int fd = ::open(e.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) die("cannot create " + e.path.string());
        Rng rng(++seed);
        for (std::uint64_t left = e.size; left > 0;) {
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kMiB));
            for (std::size_t i = 0; i < (n + 7) / 8; ++i) buf[i] = rng.next();
            auto* bytes = reinterpret_cast<const std::uint8_t*>(buf.data());
            writeAllFd(fd, bytes, n, e.path);
            writeAllFd(plain, bytes, n, plainPath);
            h.update(xs::crypto::ByteView(bytes, n));
            left -= n;
        }
        ::close(fd);
    }
    ::close(plain);
    return xs::crypto::toHex(h.finish());
}

// The plaintext length inside an age v1 binary file: header up to the "---" line's end, then a
// 16-byte nonce, then chunks of up to 64 KiB plaintext + 16-byte tag.
std::uint64_t agePlaintextSize(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::string head(64 * 1024, '\0');
    f.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(f.gcount()));
    auto mac = head.find("\n---");
    if (mac == std::string::npos) die(p.string() + " is not an age file");
    std::uint64_t headerLen = head.find('\n', mac + 1) + 1;
    std::uint64_t payload = fs::file_size(p) - headerLen - 16;
    std::uint64_t chunks = (payload + 65552 - 1) / 65552;
    return payload - 16 * chunks;
}

std::string yesterday() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    return xs::app::formatDate(xs::app::dayAt(now.count(), 480) - 1);
}

fs::path defaultCli() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return "xunshenctl";
    for (fs::path c : {exe.parent_path().parent_path() / "app" / "xunshenctl", exe.parent_path() / "xunshenctl"})
        if (fs::exists(c, ec)) return c;
    return "xunshenctl";
}

struct Step {
    const char* key;
    const char* label;
};
const Step kSteps[] = {{"export", "xunshenctl handover export"},
                       {"age_encrypt", "age -r (encrypt)"},
                       {"import", "xunshenctl handover import"},
                       {"age_decrypt", "age -d (decrypt)"}};

json childJson(const ChildRun& r) {
    return {{"wall_ms", r.wallMs}, {"max_rss_mib", r.maxRssMiB}, {"user_ms", r.userMs}, {"sys_ms", r.sysMs}};
}

}  // namespace

int main(int argc, char** argv) {
    std::string cli = defaultCli().string();
    std::string age = "age";
    std::uint64_t evidenceMiB = 1024;
    int findings = 500;
    int rounds = 1;
    bool keep = false;
    bool cheapKdf = false;
    bool warm = false;
    fs::path base;
    const char* usage =
        "usage: bench_handover [--xunshenctl PATH] [--age PATH] [--evidence-mb N] [--findings N] [--rounds R]\n"
        "                      [--dir DIR] [--keep] [--cheap-kdf] [--cache cold|warm] [--smoke]\n"
        "  --smoke      the quick run: --evidence-mb 64 --findings 50\n"
        "  --cheap-kdf  stores with Argon2id m=8 MiB t=1 p=1 (as the tests) instead of the product default\n"
        "  --cache      before every timed step the run's files leave the page cache; then the step's\n"
        "               input (store and evidence, bundle, age's input) stays on disk (cold, the default:\n"
        "               as from a USB stick) or is read into the cache (warm); the same for both sides";
    try {
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            auto next = [&]() -> std::string {
                if (i + 1 >= argc) die("missing value for " + a);
                return argv[++i];
            };
            if (a == "--xunshenctl") cli = next();
            else if (a == "--age") age = next();
            else if (a == "--evidence-mb") evidenceMiB = std::stoull(next());
            else if (a == "--findings") findings = std::stoi(next());
            else if (a == "--rounds") rounds = std::stoi(next());
            else if (a == "--dir") base = next();
            else if (a == "--keep") keep = true;
            else if (a == "--cheap-kdf") cheapKdf = true;
            else if (a == "--cache") {
                std::string v = next();
                if (v != "cold" && v != "warm") die(usage);
                warm = v == "warm";
            }
            else if (a == "--smoke") { evidenceMiB = 64; findings = 50; }
            else if (a == "--help") { std::cout << usage << "\n"; return 0; }
            else die(usage);
        }
    } catch (const std::exception&) {
        die(usage);
    }
    if (findings < 1 || rounds < 1 || evidenceMiB < 1) die(usage);
    if (!fs::exists(cli)) die("no xunshenctl at " + cli + " (pass --xunshenctl PATH)");
    cli = fs::absolute(cli).string();
    bool madeBase = false;
    if (base.empty()) {
        std::string tmpl = (fs::temp_directory_path() / "xs-handover-bench-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) die("mkdtemp failed");
        base = tmpl;
        madeBase = true;
    } else {
        if (fs::exists(base) && !fs::is_empty(base)) die(base.string() + " is not empty");
        fs::create_directories(base);
    }
    base = fs::absolute(base);
    if (!keep) g_removeOnFailure = base;  // a failed run must not leave gigabytes behind
    {
        // Nothing is deleted until the end (see the rounds): evidence files, plain.bin and the
        // inspector's store, then per round a bundle, an age file, age's output and an office store.
        const std::uintmax_t need = evidenceMiB * kMiB / 100 * 101 * (3 + 4 * static_cast<std::uintmax_t>(rounds)) + 256 * kMiB;
        const std::uintmax_t avail = fs::space(base).available;
        if (avail < need)
            die("needs about " + std::to_string(need / kMiB) + " MiB free in " + base.string() + ", has " +
                std::to_string(avail / kMiB) + " MiB (fewer --rounds or a smaller --evidence-mb)");
    }
    const fs::path scratch = base;
    ::setenv("XUNSHEN_PASSPHRASE", kPass, 1);
    ::unsetenv("XUNSHEN_STORE");
    const fs::path office = base / "office", insp = base / "insp", evidenceDir = base / "evidence";
    const fs::path plain = base / "plain.bin", agekey = base / "office.agekey";
    auto ctl = [&](const fs::path& store, std::vector<std::string> args) {
        args.insert(args.begin(), {cli, "--store", store.string()});
        return args;
    };
    std::vector<std::string> kdf;
    if (cheapKdf) kdf = {"--kdf-memory-kib", "8192", "--kdf-iterations", "1", "--kdf-parallelism", "1"};
    auto init = [&](const fs::path& store, const std::string& name, const std::string& role) {
        std::vector<std::string> a = {"init", "--name", name, "--role", role};
        a.insert(a.end(), kdf.begin(), kdf.end());
        must(ctl(store, a), scratch);
    };

    // ---------------------------------------------------------------- set-up (not timed)
    auto setupStart = Clock::now();
    std::string ageVersion = firstLine(must({age, "--version"}, scratch).out);
    init(office, "吴敏", "audit_office");
    json key = json::parse(must(ctl(office, {"org", "create-office-key", "--json"}), scratch).out);
    std::string recipient = key.at("age_recipient");
    must(ctl(office, {"identity", "export-age", "--out", agekey.string()}), scratch);

    json org = {{"units", {{{"code", "E01"}, {"name", "区生态环境监测站"}}}},
                {"people", {{{"code", "W01"}, {"name", "郑华"}, {"role", "working_group_lead"}},
                            {{"code", "W02"}, {"name", "冯磊"}, {"role", "working_group_member"}}}}};
    std::ofstream(base / "org.json") << org.dump();
    must(ctl(office, {"org", "import", (base / "org.json").string()}), scratch);
    init(insp, "郑华", "working_group_lead");
    must(ctl(insp, {"identity", "export", "--out", (base / "device.json").string()}), scratch);
    must(ctl(office, {"org", "enrol-device", (base / "device.json").string()}), scratch);
    must(ctl(office, {"org", "export-enrolment", "--out", (base / "enrolment.json").string()}), scratch);
    must(ctl(insp, {"org", "enrol", (base / "enrolment.json").string()}), scratch);
    std::string inspection =
        firstLine(must(ctl(insp, {"inspection", "create", "--unit", "E01", "--start", yesterday(), "--days", "7", "--team", "W02"}),
                       scratch).out);
    if (inspection.size() != 36) die("unexpected inspection id '" + inspection + "'");
    must(ctl(insp, {"agreement", "sign", inspection}), scratch);  // on its team: article 7(4) first

    fs::create_directories(evidenceDir);
    const std::uint64_t evidenceBytes = evidenceMiB * kMiB;
    auto plan = planEvidence(evidenceDir, evidenceBytes, findings);
    std::cerr << "set-up: writing " << plan.size() << " evidence files (" << evidenceMiB << " MiB) ...\n";
    const std::string plainHash = writeEvidence(plan, plain);
    std::vector<std::vector<std::string>> attached(static_cast<std::size_t>(findings));
    for (const auto& e : plan) attached[static_cast<std::size_t>(e.finding)].push_back(e.path.string());
    {
        const char* categories[] = {"eight_point_rules", "financial_discipline", "main_responsibility", "other"};
        const char* severities[] = {"low", "medium", "high"};
        std::ofstream lines(base / "findings.jsonl");
        for (int i = 0; i < findings; ++i) {
            json f = {{"inspection", inspection},
                      {"title", "公务接待未严格执行审批制度 #" + std::to_string(i + 1)},
                      {"description", "2025年度12批次公务接待无事前审批单，其中3批次超标准接待，涉及金额1.86万元。现场核查记录第" +
                                          std::to_string(i + 1) + "号，经办人已签字确认，照片及录像见附件。"},
                      {"category", categories[i % 4]},
                      {"severity", severities[i % 3]},
                      {"tags", {"trending"}},
                      {"immediate_fix", i % 5 == 0},
                      {"responsible_person", "办公室负责人"},
                      {"evidence", attached[static_cast<std::size_t>(i)]}};
            lines << f.dump() << "\n";
        }
    }
    std::cerr << "set-up: finding import of " << findings << " findings ...\n";
    must(ctl(insp, {"finding", "import", (base / "findings.jsonl").string()}), scratch);
    // Open-only floor: what opening each store costs in memory (Argon2id, SQLCipher, the op log).
    ChildRun openInsp = must(ctl(insp, {"identity", "show"}), scratch);
    ChildRun openOffice = must(ctl(office, {"identity", "show"}), scratch);
    const fs::path pristine = base / "office-pristine";
    fs::copy(office, pristine, fs::copy_options::recursive);
    double setupS = std::chrono::duration<double>(Clock::now() - setupStart).count();
    std::cerr << "set-up done in " << static_cast<int>(setupS) << " s\n";

    // ---------------------------------------------------------------- timed rounds
    std::vector<json> results;
    std::uint64_t bundleBytes = 0, bundlePlain = 0, ageBytes = 0;
    std::size_t evidenceFilesImported = 0;
    for (int round = 0; round < rounds; ++round) {
        json r;
        // Fresh names every round and no deletion before the end: on a filesystem mounted with
        // online discard (this VM's ext4 is), deleting gigabytes can make the next fsyncs wait for
        // the discards, which would charge the product (it fsyncs) and not age (it does not).
        const std::string n = std::to_string(round + 1);
        const fs::path bundle = base / ("bundle-" + n + ".xsbundle"), ageOut = base / ("plain-" + n + ".age");
        const fs::path ageBack = base / ("plain-" + n + ".out"), officeRound = base / ("office-" + n);
        fs::copy(pristine, officeRound, fs::copy_options::recursive);
        ::sync();
        auto timed = [&](const char* step, const std::vector<std::string>& args, const std::vector<fs::path>& inputs) {
            ::sync();  // the previous child's writeback is not this one's cost
            const double resident = setCache(base, inputs, warm);
            ChildRun c = spawn(args, scratch);
            if (c.exitCode != 0) die(std::string(step) + " failed (exit " + std::to_string(c.exitCode) + "): " + c.err);
            r[step] = childJson(c);
            r[step]["input_resident"] = resident;
            return c;
        };
        auto exportStep = [&] {
            ChildRun c = timed("export", ctl(insp, {"handover", "export", "--inspection", inspection, "--out", bundle.string(), "--json"}),
                            {insp});
            json s = json::parse(c.out);
            bundleBytes = s.at("bytes");
            if (s.at("evidence_files") != plan.size()) die("export wrote " + s.at("evidence_files").dump() + " evidence files");
        };
        auto ageEncrypt = [&] {
            timed("age_encrypt", {age, "-r", recipient, "-o", ageOut.string(), plain.string()}, {plain});
            r["age_encrypt"]["fsync_ms"] = fsyncFileMs(ageOut);
        };
        auto importStep = [&] {
            ChildRun c = timed("import", ctl(officeRound, {"handover", "import", bundle.string(), "--json"}),
                            {bundle, officeRound});
            json s = json::parse(c.out);
            evidenceFilesImported = s.at("evidence_files");
            if (evidenceFilesImported != plan.size() || s.at("change_sets_new").get<int>() < findings)
                die("import summary is short: " + s.dump());
        };
        auto ageDecrypt = [&] {
            timed("age_decrypt", {age, "-d", "-i", agekey.string(), "-o", ageBack.string(), ageOut.string()}, {ageOut, agekey});
            r["age_decrypt"]["fsync_ms"] = fsyncFileMs(ageBack);
        };
        if (round % 2 == 0) {
            exportStep(); ageEncrypt(); importStep(); ageDecrypt();
        } else {
            ageEncrypt(); exportStep(); ageDecrypt(); importStep();
        }
        // Correctness (not timed).
        json list = json::parse(must(ctl(officeRound, {"finding", "list", "--inspection", inspection, "--json"}), scratch).out);
        if (list.size() != static_cast<std::size_t>(findings))
            die("office lists " + std::to_string(list.size()) + " findings after import, expected " + std::to_string(findings));
        if (hashFile(ageBack) != plainHash) die("age -d did not give back the input bytes");
        bundlePlain = agePlaintextSize(bundle);
        ageBytes = fs::file_size(ageOut);
        if (round == rounds - 1) {
            json v = json::parse(must(ctl(officeRound, {"verify", "--json"}), scratch).out);
            if (v.at("ok") != true || v.at("evidence_files").get<std::size_t>() != plan.size())
                die("office verify after import: " + v.dump());
        }
        results.push_back(r);
        std::cerr << "round " << round + 1 << "/" << rounds << " done\n";
    }

    // ---------------------------------------------------------------- report
    auto med = [&](const char* step, const char* field) {
        std::vector<double> v;
        for (const auto& r : results) v.push_back(r[step][field].get<double>());
        return percentile(v, 0.5);
    };
    const double mib = static_cast<double>(evidenceBytes) / static_cast<double>(kMiB);
    auto mibps = [&](const char* step) { return mib / (med(step, "wall_ms") / 1000.0); };
    std::printf("handover benchmark: %d findings, %llu MiB evidence in %zu files, median of %d alternating round(s)\n",
                findings, static_cast<unsigned long long>(evidenceMiB), plan.size(), rounds);
    const xs::crypto::Argon2Params productKdf;
    const std::string kdfLabel = cheapKdf ? "Argon2id m=8 MiB t=1 p=1 (--cheap-kdf)"
                                          : "product default (Argon2id m=" + std::to_string(productKdf.memoryKiB / 1024) +
                                                " MiB t=" + std::to_string(productKdf.iterations) +
                                                " p=" + std::to_string(productKdf.parallelism) + ")";
    std::printf("xunshenctl %s, %s, KDF %s\n", cli.c_str(), ageVersion.c_str(), kdfLabel.c_str());
    std::printf("page cache: every step's input %s before it runs (--cache %s)\n\n",
                warm ? "read into the cache" : "dropped from the cache", warm ? "warm" : "cold");
    std::printf("%-30s %9s %9s %12s %9s %9s %9s\n", "step", "wall s", "MiB/s", "peak RSS MiB", "user s", "sys s", "cached");
    for (const auto& s : kSteps)
        std::printf("%-30s %9.2f %9.1f %12.1f %9.2f %9.2f %8.0f%%\n", s.label, med(s.key, "wall_ms") / 1000, mibps(s.key),
                    med(s.key, "max_rss_mib"), med(s.key, "user_ms") / 1000, med(s.key, "sys_ms") / 1000,
                    100 * med(s.key, "input_resident"));
    std::printf("%-30s %9s %9s %12.1f\n", "open only: insp identity show", "", "", openInsp.maxRssMiB);
    std::printf("%-30s %9s %9s %12.1f\n", "open only: office identity show", "", "", openOffice.maxRssMiB);
    std::printf("\nfsync of age's output (age does not fsync; the product does): encrypt %.2f s, decrypt %.2f s\n",
                med("age_encrypt", "fsync_ms") / 1000, med("age_decrypt", "fsync_ms") / 1000);
    std::printf("sizes: evidence %llu B; bundle plaintext %llu B (+%llu B manifest, change sets, record headers);\n"
                "       bundle file %llu B; age file %llu B\n",
                static_cast<unsigned long long>(evidenceBytes), static_cast<unsigned long long>(bundlePlain),
                static_cast<unsigned long long>(bundlePlain - evidenceBytes), static_cast<unsigned long long>(bundleBytes),
                static_cast<unsigned long long>(ageBytes));
    std::printf("throughput is evidence MiB / wall s of the whole child (start, unlock, work, exit) for every step\n");

    double exportRatio = mibps("export") / mibps("age_encrypt");
    double importRatio = mibps("import") / mibps("age_decrypt");
    double exportFsyncRatio =
        mib / (med("export", "wall_ms") / 1000) / (mib / ((med("age_encrypt", "wall_ms") + med("age_encrypt", "fsync_ms")) / 1000));
    double importFsyncRatio =
        mib / (med("import", "wall_ms") / 1000) / (mib / ((med("age_decrypt", "wall_ms") + med("age_decrypt", "fsync_ms")) / 1000));
    double exportRss = med("export", "max_rss_mib"), importRss = med("import", "max_rss_mib");
    auto verdict = [](bool ok) { return ok ? "PASS" : "MISS"; };
    std::printf("\ntargets:\n");
    std::printf("  export / age -r throughput   %6.2f   (target >= 0.80)  %s   [vs age -r + fsync: %.2f]\n", exportRatio,
                verdict(exportRatio >= 0.8), exportFsyncRatio);
    std::printf("  import / age -d throughput   %6.2f   (target >= 0.80)  %s   [vs age -d + fsync: %.2f]\n", importRatio,
                verdict(importRatio >= 0.8), importFsyncRatio);
    std::printf("  peak RSS export              %6.1f MiB (target <= 64)  %s\n", exportRss, verdict(exportRss <= 64));
    std::printf("  peak RSS import              %6.1f MiB (target <= 64)  %s\n", importRss, verdict(importRss <= 64));
    std::printf("checked: office lists %d findings after every import, office verify ok with %zu evidence files, "
                "age -d gives back the input's SHA-256\n",
                findings, evidenceFilesImported);
    json all = {{"findings", findings}, {"cache", warm ? "warm" : "cold"}, {"kdf", kdfLabel}, {"evidence_bytes", evidenceBytes}, {"evidence_files", plan.size()},
                {"bundle_bytes", bundleBytes}, {"bundle_plaintext_bytes", bundlePlain}, {"age_bytes", ageBytes},
                {"open_rss_mib", {{"insp", openInsp.maxRssMiB}, {"office", openOffice.maxRssMiB}}}, {"rounds", results}};
    std::cout << "\nraw: " << all.dump() << std::endl;

    if (keep) {
        std::cerr << "kept " << base.string() << "\n";
    } else if (madeBase) {
        fs::remove_all(base);
    } else {
        for (const auto& e : fs::directory_iterator(base)) fs::remove_all(e.path());
    }
    return 0;
}
