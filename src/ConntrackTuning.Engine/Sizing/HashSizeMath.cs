using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>
/// The hash-shape maths, in one place: primality and powers of two (the shape a hash size should have in each
/// era), and the rounding and bound the kernel applies to a requested hash size.
/// </summary>
internal static class HashSizeMath
{
    /// <summary>The kernel's bound on a hash size (INT_MAX / 8), checked after rounding (commit b541ba7d1f5a).</summary>
    internal const long MaxHashSize = 268_435_455;

    internal static bool IsPrime(long n)
    {
        if (n < 2)
        {
            return false;
        }

        if (n % 2 == 0)
        {
            return n == 2;
        }

        for (long d = 3; d * d <= n; d += 2)
        {
            if (n % d == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The smallest power of two, or prime, not below n.</summary>
    internal static long ShapeUp(long n, HashShape shape)
    {
        if (n <= 1)
        {
            return shape == HashShape.Prime ? 2 : 1;
        }

        if (shape == HashShape.PowerOfTwo)
        {
            long p = 1;
            while (p < n)
            {
                p <<= 1;
            }

            return p;
        }

        long c = n;
        while (!IsPrime(c))
        {
            c++;
        }

        return c;
    }

    /// <summary>The largest power of two, or prime, not above n; 1 when there is none.</summary>
    internal static long ShapeDown(long n, HashShape shape)
    {
        if (n < 2)
        {
            return 1;
        }

        if (shape == HashShape.PowerOfTwo)
        {
            long p = 1;
            while (p <= n / 2)
            {
                p <<= 1;
            }

            return p;
        }

        long c = n;
        while (!IsPrime(c))
        {
            c--;
        }

        return c;
    }

    internal static bool IsPowerOfTwo(long n) => n > 0 && (n & (n - 1)) == 0;

    /// <summary>Whether a hash size has the shape its era wants (prime before 2.4.21, a power of two after).</summary>
    internal static bool HasShape(long n, HashShape shape) => shape == HashShape.Prime ? IsPrime(n) : IsPowerOfTwo(n);

    /// <summary>The hash size the kernel ends up with for a request: from 2.6.24 rounded up to whole pages of bucket heads.</summary>
    internal static long RoundHashSize(ConntrackKernel kernel, long value)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        // PAGE_SIZE / sizeof(bucket head): 512 on 64-bit and 1024 on 32-bit with 4 KiB pages (KernelDefaults holds the
        // rule for the recommendation too), on the page size Get-ConntrackRecommendation takes. Either way the value
        // read back is what counts.
        return KernelDefaults.AllocatedBuckets(value, kernel.EraRow, KernelDefaults.PointerBits(kernel), KernelDefaults.RootPageSize(kernel.SystemRoot).Bytes);
    }
}
