using System;
using Xunit;
using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Usage percent, share and entries per bucket have one copy (TableRatios); these hold its edge cases, and hold it
/// to the inline expressions it replaced digit for digit, so no output moved when the readers started sharing it.
/// </summary>
public class TableRatiosTests
{
    [Theory]
    [InlineData(null, 262144L)]
    [InlineData(310L, null)]
    [InlineData(null, null)]
    [InlineData(310L, 0L)]
    [InlineData(0L, 0L)]
    [InlineData(310L, -1L)]
    public void UsagePercentIsNullWithoutBothFiguresOrWithNoLimit(long? count, long? max) =>
        Assert.Null(TableRatios.UsagePercent(count, max));

    [Theory]
    [InlineData(310L, 262144L, 0.12)]
    [InlineData(0L, 65536L, 0)]
    [InlineData(65536L, 65536L, 100)]
    [InlineData(3L, 2L, 150)]
    [InlineData(1L, 3L, 33.33)]
    [InlineData(2L, 3L, 66.67)]
    public void UsagePercentIsCountOverMaxInTwoDecimals(long count, long max, double expected) =>
        Assert.Equal(expected, TableRatios.UsagePercent(count, max));

    [Theory]
    [InlineData(1L, 800L, 0.12)] // 0.125 exactly: to even, down
    [InlineData(3L, 800L, 0.38)] // 0.375 exactly: to even, up
    [InlineData(1L, 8L, 12.5)]
    public void MidpointsRoundToEven(long count, long max, double expected) =>
        Assert.Equal(expected, TableRatios.UsagePercent(count, max));

    [Fact]
    public void HugeFiguresDoNotOverflow()
    {
        Assert.Equal(100, TableRatios.UsagePercent(long.MaxValue, long.MaxValue));
        Assert.Equal(0, TableRatios.UsagePercent(1, long.MaxValue));
        Assert.Equal(50, TableRatios.UsagePercent(long.MaxValue / 2, long.MaxValue));
        Assert.Equal(9.223372036854776E18, TableRatios.EntriesPerBucket(long.MaxValue, 1L));
        Assert.Equal(TableRatios.UsagePercent(uint.MaxValue - 1L, uint.MaxValue), TableRatios.Share(uint.MaxValue - 1L, uint.MaxValue));
    }

    [Fact]
    public void UsageRatioIsUnroundedAndLeftOutWithoutALimit()
    {
        Assert.Equal(1.0 / 3, TableRatios.UsageRatio(1, 3));
        Assert.Equal(310.0 / 262144, TableRatios.UsageRatio(310, 262144));
        Assert.Equal(1.5, TableRatios.UsageRatio(3, 2));
        Assert.Null(TableRatios.UsageRatio(310, 0));
        Assert.Null(TableRatios.UsageRatio(310, null));
        Assert.Null(TableRatios.UsageRatio(null, 262144));
        Assert.Equal(1, TableRatios.UsageRatio(long.MaxValue, long.MaxValue));
    }

    [Fact]
    public void ShareOfNothingIsZero()
    {
        Assert.Equal(0, TableRatios.Share(0, 0));
        Assert.Equal(33.33, TableRatios.Share(1, 3));
        Assert.Equal(100, TableRatios.Share(7, 7));
    }

    [Theory]
    [InlineData(null, 262144L)]
    [InlineData(262144L, null)]
    [InlineData(262144L, 0L)]
    [InlineData(262144L, -8L)]
    public void EntriesPerBucketIsNullWithoutBuckets(long? max, long? hashSize) =>
        Assert.Null(TableRatios.EntriesPerBucket(max, hashSize));

    [Theory]
    [InlineData(262144L, 262144L, 1)]
    [InlineData(65536L, 16384L, 4)]
    [InlineData(0L, 16384L, 0)]
    [InlineData(100L, 3L, 33.33)]
    [InlineData(2L, 3L, 0.67)]
    [InlineData(1L, 8L, 0.12)]
    [InlineData(3L, 8L, 0.38)]
    public void EntriesPerBucketIsMaxOverHashSizeInTwoDecimals(long max, long hashSize, double expected)
    {
        Assert.Equal(expected, TableRatios.EntriesPerBucket(max, hashSize));
        Assert.Equal(expected, TableRatios.EntriesPerBucket((long?)max, hashSize));
    }

    [Fact]
    public void SameDigitsAsTheExpressionsItReplaced()
    {
        var random = new Random(12);
        for (int i = 0; i < 100_000; i++)
        {
            bool small = i % 3 == 0;
            long whole = small ? random.Next(1, 5000) : random.NextInt64(1, long.MaxValue);
            long part = small ? random.Next(0, 10000) : random.NextInt64(0, whole);
            Assert.Equal(Math.Round(100.0 * part / whole, 2), TableRatios.UsagePercent(part, whole));
            Assert.Equal(Math.Round(100.0 * part / whole, 2), TableRatios.Share(part, whole));
            Assert.Equal(Math.Round((double)part / whole, 2), TableRatios.EntriesPerBucket(part, whole));
        }
    }
}
