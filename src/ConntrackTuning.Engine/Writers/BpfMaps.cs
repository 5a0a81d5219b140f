using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ConntrackTuning.Engine.Writers;

/// <summary>
/// The eBPF conntrack maps of Cilium and Calico, pinned in bpffs: cilium_ct4_global (TCP), cilium_ct_any4_global
/// (the rest), their IPv6 twins, and Calico's cali_v4_ct* / cali_v6_ct*. Each map's size is read with
/// bpf(BPF_OBJ_GET) and bpf(BPF_OBJ_GET_INFO_BY_FD); its fill by walking the keys (BPF_MAP_GET_NEXT_KEY) within a
/// time budget and a key cap, so a huge or busy map cannot hold the command up. These tables drop with no
/// kernel log message at all: Cilium counts "CT: Map insertion failed" drops, Calico its own.
/// </summary>
internal static class BpfMaps
{
    /// <summary>The names the two projects pin their conntrack maps under.</summary>
    public static bool IsConntrackMap(string name) =>
        name.StartsWith("cilium_ct4_", StringComparison.Ordinal) || name.StartsWith("cilium_ct6_", StringComparison.Ordinal)
        || name.StartsWith("cilium_ct_any4_", StringComparison.Ordinal) || name.StartsWith("cilium_ct_any6_", StringComparison.Ordinal)
        || name.StartsWith("cali_v4_ct", StringComparison.Ordinal) || name.StartsWith("cali_v6_ct", StringComparison.Ordinal);

    /// <summary>The bpffs mount points of this process's mount namespace (fstype bpf in mountinfo); /sys/fs/bpf when none is listed.</summary>
    public static IReadOnlyList<string> MountPoints(SystemRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var points = new List<string>();
        foreach (string line in root.ReadLines("proc/self/mountinfo"))
        {
            int dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash > 0 && line.AsSpan(dash + 3).StartsWith("bpf ", StringComparison.Ordinal))
            {
                string[] fields = line[..dash].Split(' ');
                if (fields.Length >= 5)
                {
                    points.Add(fields[4].Replace("\\040", " ", StringComparison.Ordinal));
                }
            }
        }

        return points.Count > 0 ? points.Distinct(StringComparer.Ordinal).ToList() : ["/sys/fs/bpf"];
    }

    /// <summary>Pinned conntrack maps under the folders, at most four levels down (Cilium pins under tc/globals).</summary>
    public static IEnumerable<string> FindPinned(IEnumerable<string> folders)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 4, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string folder in folders)
        {
            if (!Directory.Exists(folder))
            {
                continue;
            }

            foreach (string file in Directory.EnumerateFiles(folder, "c*", options))
            {
                if (IsConntrackMap(Path.GetFileName(file)) && seen.Add(file))
                {
                    yield return file;
                }
            }
        }
    }

    /// <summary>Reads one pinned map: its info and, within the budget, how many keys it holds.</summary>
    public static ConntrackBpfMap Read(string path, TimeSpan budget, long keyCap, System.Threading.CancellationToken cancellation)
    {
        string name = Path.GetFileName(path);
        int fd = ObjGet(path, out int errno);
        if (fd < 0)
        {
            return new ConntrackBpfMap { Path = path, Name = name, Owner = OwnerOf(name), Error = $"BPF_OBJ_GET failed: {Errno.Describe(errno)}" };
        }

        try
        {
            byte[] info = new byte[88];
            if (InfoByFd(fd, info, out errno) != 0)
            {
                return new ConntrackBpfMap { Path = path, Name = name, Owner = OwnerOf(name), Error = $"BPF_OBJ_GET_INFO_BY_FD failed: {Errno.Describe(errno)}" };
            }

            uint type = BitConverter.ToUInt32(info, 0);
            uint id = BitConverter.ToUInt32(info, 4);
            uint keySize = BitConverter.ToUInt32(info, 8);
            uint valueSize = BitConverter.ToUInt32(info, 12);
            uint maxEntries = BitConverter.ToUInt32(info, 16);
            (long count, bool complete, string? error) = CountKeys(fd, (int)keySize, budget, keyCap, cancellation);
            return new ConntrackBpfMap
            {
                Path = path,
                Name = name,
                Owner = OwnerOf(name),
                MapId = id,
                MapType = TypeName(type),
                KeySize = keySize,
                ValueSize = valueSize,
                MaxEntries = maxEntries,
                Entries = count,
                EntriesComplete = complete,
                Error = error,
            };
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }

    private static (long Count, bool Complete, string? Error) CountKeys(int fd, int keySize, TimeSpan budget, long cap, System.Threading.CancellationToken cancellation)
    {
        byte[] key = new byte[Math.Max(keySize, 1)];
        byte[] next = new byte[key.Length];
        var clock = Stopwatch.StartNew();
        long count = 0;
        bool first = true;
        while (true)
        {
            if ((count & 0x3FF) == 0 && (clock.Elapsed > budget || cancellation.IsCancellationRequested))
            {
                return (count, false, null);
            }

            if (count >= cap)
            {
                return (count, false, null);
            }

            if (NextKey(fd, first ? null : key, next, out int errno) != 0)
            {
                return errno == Errno.ENOENT ? (count, true, null) : (count, false, $"BPF_MAP_GET_NEXT_KEY failed: {Errno.Describe(errno)}");
            }

            first = false;
            count++;
            (key, next) = (next, key);
        }
    }

    private static string OwnerOf(string name) => name.StartsWith("cali", StringComparison.Ordinal) ? "Calico" : "Cilium";

    private static string TypeName(uint type) => type switch
    {
        1 => "hash",
        2 => "array",
        5 => "percpu_hash",
        9 => "lru_hash",
        10 => "lru_percpu_hash",
        _ => "type " + type.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    // union bpf_attr, zeroed: the kernel refuses unknown non-zero bytes past the fields of a command.
    private const int AttrSize = 128;
    private const int BpfMapGetNextKey = 4;
    private const int BpfObjGet = 7;
    private const int BpfObjGetInfoByFd = 15;

    private static unsafe int ObjGet(string path, out int errno)
    {
        byte[] name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        fixed (byte* p = name)
        {
            *(ulong*)attr = (ulong)p;
            int fd = (int)Bpf(BpfObjGet, attr, AttrSize);
            errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            return fd;
        }
    }

    private static unsafe int InfoByFd(int fd, byte[] info, out int errno)
    {
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        fixed (byte* p = info)
        {
            *(uint*)attr = (uint)fd;
            *(uint*)(attr + 4) = (uint)info.Length;
            *(ulong*)(attr + 8) = (ulong)p;
            int r = (int)Bpf(BpfObjGetInfoByFd, attr, AttrSize);
            errno = r < 0 ? Marshal.GetLastPInvokeError() : 0;
            return r < 0 ? -1 : 0;
        }
    }

    private static unsafe int NextKey(int fd, byte[]? key, byte[] next, out int errno)
    {
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        fixed (byte* k = key)
        fixed (byte* n = next)
        {
            *(uint*)attr = (uint)fd;
            *(ulong*)(attr + 8) = key is null ? 0 : (ulong)k;
            *(ulong*)(attr + 16) = (ulong)n;
            int r = (int)Bpf(BpfMapGetNextKey, attr, AttrSize);
            errno = r < 0 ? Marshal.GetLastPInvokeError() : 0;
            return r < 0 ? -1 : 0;
        }
    }

    private static unsafe long Bpf(int cmd, byte* attr, int size) => Native.Syscall(Native.SysBpf, cmd, (nint)attr, size);
}
