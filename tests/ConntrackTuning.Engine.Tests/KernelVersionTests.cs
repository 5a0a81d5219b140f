using Xunit;
using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Tests;

public class KernelVersionTests
{
    [Theory]
    [InlineData("2.4.20-8", 2, 4, 20, 0)]
    [InlineData("2.6.18-419.el5", 2, 6, 18, 0)]
    [InlineData("2.6.32.67", 2, 6, 32, 67)]
    [InlineData("3.10.0-1160.el7.x86_64", 3, 10, 0, 0)]
    [InlineData("5.15.0-91-generic", 5, 15, 0, 0)]
    [InlineData("6.18.44-fc-v669", 6, 18, 44, 0)]
    [InlineData("4.19", 4, 19, 0, 0)]
    [InlineData("  6.1.0-13-amd64\n", 6, 1, 0, 0)]
    public void Parses_the_releases_distributions_ship(string release, int major, int minor, int patch, int sub)
    {
        Assert.True(KernelVersion.TryParse(release, out KernelVersion v));
        Assert.Equal(new KernelVersion(major, minor, patch, sub), v);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("linux")]
    [InlineData("6")]
    [InlineData("6.")]
    [InlineData(".6.1")]
    [InlineData("1234567.1")]
    public void Rejects_what_is_not_a_version(string? text)
    {
        Assert.False(KernelVersion.TryParse(text, out _));
        ConntrackException e = Assert.Throws<ConntrackException>(() => KernelVersion.Parse(text));
        Assert.Equal(ErrorIds.InvalidKernelVersion, e.ErrorId);
    }

    [Fact]
    public void Orders_by_every_component()
    {
        Assert.True(new KernelVersion(2, 6, 32, 67) > new KernelVersion(2, 6, 32));
        Assert.True(new KernelVersion(5, 15) > new KernelVersion(5, 4, 300));
        Assert.True(new KernelVersion(2, 4, 21) < new KernelVersion(2, 6, 0));
    }
}
