using System;
using System.IO;
using System.Security.Cryptography;
using ConntrackTuning.Engine;

namespace ConntrackTuning.Fuzz;

/// <summary>The parts of the run the replay test shares: one execution, its verdict, and where a finding is kept.</summary>
public static class FuzzRunner
{
    /// <summary>
    /// The mutator's seed for one target. string.GetHashCode differs from process to process, so a seed printed by
    /// one run would not replay in the next; FNV-1a over the name does.
    /// </summary>
    public static int TargetSeed(int seed, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        uint hash = 2166136261;
        foreach (char c in name)
        {
            hash = (hash ^ c) * 16777619;
        }

        return seed ^ (int)hash;
    }

    /// <summary>Runs one input: null when it passed (the engine's own ConntrackException counts as a pass), else the crash.</summary>
    public static Exception? RunOne(FuzzTarget target, byte[] input)
    {
        ArgumentNullException.ThrowIfNull(target);
        try
        {
            target.Run(input);
            return null;
        }
        catch (ConntrackException)
        {
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    public static string Save(string crashes, string target, byte[] input)
    {
        string dir = Path.Combine(crashes, target);
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, Convert.ToHexString(SHA256.HashData(input))[..16].ToLowerInvariant() + ".bin");
        File.WriteAllBytes(file, input);
        return file;
    }

    public static string FindRepo()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "ConntrackTuning.sln")))
            {
                return dir;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
