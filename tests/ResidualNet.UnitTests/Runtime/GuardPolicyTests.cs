using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FluentAssertions;
using ResidualNet.Runtime;
using ResidualNet.TestSupport;
using Xunit;

namespace ResidualNet.UnitTests.Runtime;

/// <summary>The guard's decision from fake CPUID, sysfs and procfs readings and fake oneDNN records (pure, no native code).</summary>
public class GuardPolicyTests
{
    // CPUID of the machines this project runs on: "AMD EPYC", family 26 (0xF + 0xB), model 2.
    private const int AmdLeaf1Eax = 0x00B00F21;

    /// <summary>This project's unaffected machine: the registers X86Base.CpuId returned there (2026-11-29).</summary>
    private static readonly Dictionary<(uint, int), (uint, uint, uint, uint)> UnaffectedAmd = new()
    {
        [(0x8000001D, 0)] = (0x00000121, 0x02c0003f, 0x0000003f, 0),
        [(0x8000001D, 1)] = (0x00000122, 0x01c0003f, 0x0000003f, 0),
        [(0x8000001D, 2)] = (0x00000143, 0x03c0003f, 0x000003ff, 2),
        [(0x8000001D, 3)] = (0x00004163, 0x03c0003f, 0x00007fff, 1),
        [(0x80000005, 0)] = (0xff60ff40, 0xff60ff40, 0x300c0140, 0x20080140),
        [(0x80000006, 0)] = (0x40802040, 0x60804040, 0x04008140, 0x0c009140),
    };

    /// <summary>An affected machine as oneDNN saw it: the deterministic cache leaf gives the cache types but zero geometry
    /// (so Xbyak computes 1 byte per level), and the older AMD leaves report nothing.</summary>
    private static readonly Dictionary<(uint, int), (uint, uint, uint, uint)> HiddenAmd = new()
    {
        [(0x8000001D, 0)] = (0x00000121, 0, 0, 0),
        [(0x8000001D, 1)] = (0x00000122, 0, 0, 0),
        [(0x8000001D, 2)] = (0x00000143, 0, 0, 0),
        [(0x8000001D, 3)] = (0x00000163, 0, 0, 0),
    };

    private static readonly OneDnnCpuRecord OneByte = Record([1, 1, 1], [1, 1, 1]);
    private static readonly OneDnnCpuRecord Plausible = Record([48 * 1024, 1 << 20, 32 << 20], [1, 1, 2]);

    [Fact]
    public void Cpuid_IsReadAsXbyakReadsIt_OnTheUnaffectedAmd()
    {
        var facts = Facts(UnaffectedAmd, sysfs: null, cpuinfo: null);
        facts.Vendor.Should().Be("AuthenticAMD");
        (facts.DisplayFamily, facts.DisplayModel).Should().Be((26, 2));
        facts.CpuidDataCaches.Should().Equal(new CacheLevelInfo(1, 48 * 1024, 1), new CacheLevelInfo(2, 1 << 20, 1), new CacheLevelInfo(3, 32 << 20, 2));
        facts.CpuidLegacyDataCaches.Select(c => c.SizeBytes).Should().Equal(48 * 1024, 1 << 20, 384L << 20);
    }

    [Fact]
    public void Cpuid_OfAnAffectedMachine_GivesOneByteCaches_AndCountsAsHidden()
    {
        var facts = Facts(HiddenAmd, sysfs: null, cpuinfo: "cache size\t: 1024 KB\n");
        facts.CpuidDataCaches.Select(c => c.SizeBytes).Should().Equal(1, 1, 1);
        facts.CpuidLegacyDataCaches.Should().BeEmpty();
        facts.CachesHidden.Should().BeTrue();
    }

    [Fact]
    public void Cpuid_IntelLeaf4_IsRead()
    {
        // Leaf 4 of an Intel Xeon: 48 KiB L1d (12 ways x 64 sets x 64 B), 2 MiB L2 (16 x 2048 x 64), 105 MiB L3 (15 x 114688 x 64).
        var leaves = new Dictionary<(uint, int), (uint, uint, uint, uint)>
        {
            [(4, 0)] = (0x00000121, 0x02c0003f, 0x0000003f, 0),
            [(4, 1)] = (0x00000122, 0x01c0003f, 0x0000003f, 0),
            [(4, 2)] = (0x00004143, 0x03c0003f, 0x000007ff, 0),
            [(4, 3)] = (0x03ffc163, 0x0380003f, 0x0001bfff, 0),
        };
        var facts = CpuCacheProbe.WithCpuid(new CpuCacheFacts(), Cpuid(leaves, "GenuineIntel", 0x000806F8));
        (facts.DisplayFamily, facts.DisplayModel).Should().Be((6, 0x8F));
        facts.CpuidDataCaches.Should().Equal(
            new CacheLevelInfo(1, 48 * 1024, 1), new CacheLevelInfo(2, 2 << 20, 2), new CacheLevelInfo(3, 105 << 20, 4096));
        facts.CpuidLegacyDataCaches.Should().BeEmpty();
    }

    [Fact]
    public void Sysfs_CacheFolders_AreRead_AndTheirAbsenceIsNoticed()
    {
        using var root = new TempFolder();
        var cpu0 = Directory.CreateDirectory(Path.Combine(root.Path, "cpu0"));
        CpuCacheProbe.ReadSysfs(root.Path).Should().BeNull();
        WriteIndex(cpu0, 0, 1, "Data", "48K", "0");
        WriteIndex(cpu0, 1, 1, "Instruction", "32K", "0");
        WriteIndex(cpu0, 2, 2, "Unified", "1024K", "0");
        WriteIndex(cpu0, 3, 3, "Unified", "32768K", "0-1");
        CpuCacheProbe.ReadSysfs(root.Path).Should().Equal(
            new CacheLevelInfo(1, 48 * 1024, 1), new CacheLevelInfo(2, 1 << 20, 1), new CacheLevelInfo(3, 32 << 20, 2));
    }

    [Theory]
    [InlineData("processor\t: 0\ncache size\t: 1024 KB\n", 1L << 20)]
    [InlineData("cache size : 32768 KB", 32L << 20)]
    [InlineData("processor : 0\n", null)]
    public void Cpuinfo_CacheSize_IsParsed(string text, long? expected) =>
        CpuCacheProbe.ParseCpuinfoCacheSize(text).Should().Be(expected);

    [Theory]
    [InlineData("0", 1)]
    [InlineData("0-1", 2)]
    [InlineData("0-3,8,10-11", 7)]
    [InlineData("", 0)]
    public void CpuLists_AreCounted(string list, int expected) => CpuCacheProbe.CountCpuList(list).Should().Be(expected);

    [Fact]
    public void OneByteRecord_OnAHiddenCpu_IsCorrected_FromProcCpuinfoAndDefaults()
    {
        var facts = Facts(HiddenAmd, sysfs: null, cpuinfo: "cache size\t: 1024 KB\n");
        var plan = Decide(facts, OneByte);
        plan.Decision.Should().Be(OneDnnGuardDecision.CacheSizesCorrected);
        plan.Action.Should().Be(GuardAction.WriteCacheSizes);
        plan.RunCanary.Should().BeTrue("the canary confirms the correction");
        plan.SizesToWrite.Should().Equal(
            new CacheLevelInfo(1, 32 * 1024, 1), new CacheLevelInfo(2, 1 << 20, 1), new CacheLevelInfo(3, 2L << 20, 2));
        plan.SizeSources.Should().Be("L1 32 KiB (default), L2 1 MiB (/proc/cpuinfo), L3 2 MiB shared by 2 (default)");
        plan.Reason.Should().Contain("1 B, 1 B, 1 B");
    }

    [Fact]
    public void OneByteRecord_OnACpuThatReportsItsCaches_IsCorrected_FromSysfs()
    {
        var facts = Facts(UnaffectedAmd, sysfs: [new(1, 48 * 1024, 1), new(2, 1 << 20, 1), new(3, 32 << 20, 2)], cpuinfo: null);
        var plan = Decide(facts, OneByte);
        plan.SizesToWrite.Should().Equal(new CacheLevelInfo(1, 48 * 1024, 1), new CacheLevelInfo(2, 1 << 20, 1), new CacheLevelInfo(3, 32 << 20, 2));
        plan.SizeSources.Should().Be("L1 48 KiB (sysfs), L2 1 MiB (sysfs), L3 32 MiB shared by 2 (sysfs)");
    }

    [Fact]
    public void OnlyTheImplausibleLevels_AreWritten_AndAZeroSharingCountIsImplausible()
    {
        var facts = Facts(UnaffectedAmd, sysfs: null, cpuinfo: null);
        var plan = Decide(facts, Record([48 * 1024, 1 << 20, 32 << 20], [1, 1, 0]));
        plan.Decision.Should().Be(OneDnnGuardDecision.CacheSizesCorrected);
        plan.SizesToWrite.Should().Equal(new CacheLevelInfo(3, 32 << 20, 2));
        plan.SizeSources.Should().Be("L3 32 MiB shared by 2 (CPUID)");
    }

    [Fact]
    public void PlausibleRecord_IsLeftAlone_AndCheckedWithTheCanary()
    {
        var plan = Decide(Facts(UnaffectedAmd, sysfs: [new(1, 48 * 1024, 1)], cpuinfo: null), Plausible);
        plan.Decision.Should().Be(OneDnnGuardDecision.Unaffected);
        plan.Action.Should().Be(GuardAction.None);
        plan.RunCanary.Should().BeTrue();
    }

    [Fact]
    public void RecordWithoutLevels_MeansOneDnnDefaults_AndIsLeftAlone()
    {
        var plan = Decide(Facts(HiddenAmd, sysfs: null, cpuinfo: null), Record([], []));
        plan.Decision.Should().Be(OneDnnGuardDecision.Unaffected);
        plan.Reason.Should().Contain("defaults");
    }

    [Fact]
    public void UnusableRecord_OnAHiddenCpu_TurnsOneDnnOff_WithoutRunningTheCanary()
    {
        var plan = Decide(Facts(HiddenAmd, sysfs: null, cpuinfo: null), Unusable("symbol not in .symtab"));
        plan.Decision.Should().Be(OneDnnGuardDecision.OneDnnDisabled);
        plan.Action.Should().Be(GuardAction.DisableOneDnn);
        plan.RunCanary.Should().BeFalse("nothing that could crash runs to decide");
        plan.Reason.Should().Contain("symbol not in .symtab").And.Contain("hides its caches");
    }

    [Fact]
    public void UnusableRecord_OnAHiddenCpu_WithoutTheSwitch_IsUnresolved()
    {
        var plan = GuardPolicy.Decide(new GuardInputs(OneDnnGuardMode.Auto, true, true, Facts(HiddenAmd, null, null),
            Unusable("stripped"), MkldnnEnabled: null, SwitchProblem: "_ZN2at13globalContextEv not exported"));
        plan.Decision.Should().Be(OneDnnGuardDecision.Unresolved);
        plan.Action.Should().Be(GuardAction.None);
        plan.Reason.Should().Contain("not exported");
    }

    [Fact]
    public void UnusableRecord_OnACpuThatReportsItsCaches_IsCheckedWithTheCanaryOnly()
    {
        var plan = Decide(Facts(UnaffectedAmd, sysfs: [new(1, 48 * 1024, 1)], cpuinfo: null), Unusable("another oneDNN version"));
        plan.Decision.Should().Be(OneDnnGuardDecision.Unaffected);
        plan.RunCanary.Should().BeTrue();
    }

    [Fact]
    public void SysfsWithoutCaches_CountsAsHidden()
    {
        var facts = Facts(UnaffectedAmd, sysfs: null, cpuinfo: null) with { SysfsCpuFolderPresent = true, SysfsDataCaches = null };
        facts.CachesHidden.Should().BeTrue();
        Decide(facts, Unusable("x")).Action.Should().Be(GuardAction.DisableOneDnn);
    }

    [Theory]
    [InlineData(OneDnnGuardMode.On, OneDnnGuardDecision.LeftAsIs)]
    [InlineData(OneDnnGuardMode.Off, OneDnnGuardDecision.OneDnnDisabled)]
    public void Overrides_WinOverTheFacts(OneDnnGuardMode mode, OneDnnGuardDecision decision)
    {
        var action = mode == OneDnnGuardMode.Off ? GuardAction.DisableOneDnn : GuardAction.None;
        foreach (var record in new[] { OneByte, Plausible, Unusable("x") })
        {
            var plan = GuardPolicy.Decide(new GuardInputs(mode, true, true, Facts(HiddenAmd, null, null), record, MkldnnEnabled: true));
            (plan.Decision, plan.Action, plan.RunCanary).Should().Be((decision, action, false));
        }
    }

    [Fact]
    public void Off_WithoutTheSwitch_IsUnresolved()
    {
        var plan = GuardPolicy.Decide(new GuardInputs(OneDnnGuardMode.Off, true, true, new CpuCacheFacts(), null, MkldnnEnabled: null, SwitchProblem: "missing"));
        plan.Decision.Should().Be(OneDnnGuardDecision.Unresolved);
    }

    [Fact]
    public void NotLinux_OrNotX64_IsNotApplicable_ButOffStillWorksOnLinux()
    {
        Decide(Facts(HiddenAmd, null, null), OneByte, isLinux: false).Decision.Should().Be(OneDnnGuardDecision.NotApplicable);
        Decide(Facts(HiddenAmd, null, null), OneByte, isX64: false).Decision.Should().Be(OneDnnGuardDecision.NotApplicable);
        GuardPolicy.Decide(new GuardInputs(OneDnnGuardMode.Off, IsLinux: false, IsX64: true, new CpuCacheFacts(), null, null))
            .Decision.Should().Be(OneDnnGuardDecision.NotApplicable);
        GuardPolicy.Decide(new GuardInputs(OneDnnGuardMode.Off, IsLinux: true, IsX64: false, new CpuCacheFacts(), null, MkldnnEnabled: true))
            .Decision.Should().Be(OneDnnGuardDecision.OneDnnDisabled);
        GuardPolicy.NeedsNativeFacts(OneDnnGuardMode.Auto, isLinux: true, isX64: false).Should().BeFalse();
        GuardPolicy.NeedsNativeFacts(OneDnnGuardMode.On, isLinux: true, isX64: true).Should().BeFalse("on means: no check");
        GuardPolicy.NeedsNativeFacts(OneDnnGuardMode.Auto, isLinux: true, isX64: true).Should().BeTrue();
    }

    [Fact]
    public void AlreadyDisabled_IsLeftAlone()
    {
        var plan = GuardPolicy.Decide(new GuardInputs(OneDnnGuardMode.Auto, true, true, Facts(HiddenAmd, null, null), OneByte, MkldnnEnabled: false));
        plan.Decision.Should().Be(OneDnnGuardDecision.AlreadyDisabled);
        plan.Action.Should().Be(GuardAction.None);
    }

    [Theory]
    [InlineData(null, OneDnnGuardMode.Auto)]
    [InlineData("", OneDnnGuardMode.Auto)]
    [InlineData(" AUTO ", OneDnnGuardMode.Auto)]
    [InlineData("on", OneDnnGuardMode.On)]
    [InlineData("Off", OneDnnGuardMode.Off)]
    public void Override_IsParsed(string? value, OneDnnGuardMode expected) => OneDnnGuard.ParseMode(value).Should().Be(expected);

    [Theory]
    [InlineData("maybe")]
    [InlineData("0")]
    [InlineData("disable")]
    public void Override_BadValue_IsRejectedWithTheVariableAndTheValue(string value)
    {
        var act = () => OneDnnGuard.ParseMode(value);
        act.Should().Throw<InvalidOperationException>().WithMessage($"*{OneDnnGuard.EnvironmentVariable}*'{value}'*auto, on or off*");
    }

    [Fact]
    public void Notice_IsOneLine_SaysWhatWasFoundAndDone_AndHowToOverride()
    {
        var corrected = new OneDnnGuardStatus
        {
            Decision = OneDnnGuardDecision.CacheSizesCorrected,
            Reason = "oneDNN's data cache sizes read as 1 B, 1 B, 1 B (sharing 1, 1, 1): this CPU does not report its caches",
            WrittenCacheSizeSources = "L1 32 KiB (default)",
            CanaryRelativeError = 1e-7,
        };
        string notice = OneDnnGuard.NoticeFor(corrected)!;
        notice.Should().StartWith("ResidualNet: ").And.Contain("1 B, 1 B, 1 B").And.Contain("L1 32 KiB (default)")
            .And.Contain("RESIDUALNET_ONEDNN=off").And.Contain("RESIDUALNET_ONEDNN=on").And.NotContain("\n");
        OneDnnGuard.NoticeFor(corrected with { Decision = OneDnnGuardDecision.OneDnnDisabled, Mode = OneDnnGuardMode.Off })
            .Should().Contain("RESIDUALNET_ONEDNN=off").And.Contain("slower");
        OneDnnGuard.NoticeFor(corrected with { Decision = OneDnnGuardDecision.Unresolved }).Should().Contain("carrying on");
        foreach (var silent in new[] { OneDnnGuardDecision.Unaffected, OneDnnGuardDecision.LeftAsIs, OneDnnGuardDecision.NotApplicable, OneDnnGuardDecision.AlreadyDisabled })
        {
            OneDnnGuard.NoticeFor(corrected with { Decision = silent }).Should().BeNull();
        }
    }

    private static GuardPlan Decide(CpuCacheFacts facts, OneDnnCpuRecord record, bool isLinux = true, bool isX64 = true) =>
        GuardPolicy.Decide(new GuardInputs(OneDnnGuardMode.Auto, isLinux, isX64, facts, record, MkldnnEnabled: true));

    private static OneDnnCpuRecord Record(long[] sizes, long[] sharing) => new()
    {
        IsUsable = true,
        Constructed = true,
        DisplayFamily = 26,
        DisplayModel = 2,
        DataCacheLevels = sizes.Length,
        DataCacheSizes = sizes,
        CoresSharing = sharing,
    };

    private static OneDnnCpuRecord Unusable(string problem) => new() { IsUsable = false, Problem = problem };

    private static CpuCacheFacts Facts(Dictionary<(uint, int), (uint, uint, uint, uint)> leaves, CacheLevelInfo[]? sysfs, string? cpuinfo)
    {
        var facts = new CpuCacheFacts
        {
            SysfsCpuFolderPresent = false,
            SysfsDataCaches = sysfs,
            ProcCpuinfoCacheSizeBytes = cpuinfo is null ? null : CpuCacheProbe.ParseCpuinfoCacheSize(cpuinfo),
            LogicalProcessors = 2,
        };
        return CpuCacheProbe.WithCpuid(facts, Cpuid(leaves, "AuthenticAMD", AmdLeaf1Eax));
    }

    /// <summary>A fake CPUID: leaf 0 gives the vendor, leaf 1 the family/model, 0x80000000 the highest extended leaf; the rest from the table (zeros otherwise).</summary>
    private static CpuIdFunction Cpuid(Dictionary<(uint, int), (uint, uint, uint, uint)> leaves, string vendor, int leaf1Eax) => (leaf, sub) =>
    {
        int Reg(int i) => BitConverter.ToInt32(System.Text.Encoding.ASCII.GetBytes(vendor), i * 4);
        uint l = unchecked((uint)leaf);
        if (l == 0)
        {
            return (0x10, Reg(0), Reg(2), Reg(1));
        }

        if (l == 1)
        {
            return (leaf1Eax, 0, 0, 0);
        }

        if (l == 0x80000000)
        {
            return (unchecked((int)0x80000021), 0, 0, 0);
        }

        return leaves.TryGetValue((l, sub), out var r)
            ? (unchecked((int)r.Item1), unchecked((int)r.Item2), unchecked((int)r.Item3), unchecked((int)r.Item4))
            : (0, 0, 0, 0);
    };

    private static void WriteIndex(DirectoryInfo cpu0, int index, int level, string type, string size, string shared)
    {
        var dir = Directory.CreateDirectory(Path.Combine(cpu0.FullName, "cache", $"index{index}"));
        File.WriteAllText(Path.Combine(dir.FullName, "level"), $"{level}\n");
        File.WriteAllText(Path.Combine(dir.FullName, "type"), $"{type}\n");
        File.WriteAllText(Path.Combine(dir.FullName, "size"), $"{size}\n");
        File.WriteAllText(Path.Combine(dir.FullName, "shared_cpu_list"), $"{shared}\n");
    }
}
