using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;

namespace ResidualNet.Runtime;

/// <summary>
/// Guards against libtorch's oneDNN on CPUs that hide their cache sizes (seen on cloud VMs: no L1d/L2/L3 in
/// <c>lscpu</c>, no <c>/sys/devices/system/cpu/cpu0/cache</c>). There oneDNN v3.7.1, inside libtorch 2.10 (TorchSharp
/// 0.107), records every data cache as 1 byte and sizes its convolution blocking from that: convolution backward
/// dies with SIGFPE and 1x1 convolutions on channels_last inputs come out 12-15% wrong.
/// </summary>
/// <remarks>
/// <para>
/// Every ResidualNet entry point that starts libtorch work (networks and blocks, the registry, weights, channels_last,
/// folding, low and mixed precision, checkpointing, the gradient-flow monitor) runs the guard first, once per process;
/// later calls cost one field read. Plain TorchSharp code that runs before any ResidualNet call is outside its reach:
/// call <see cref="Ensure"/> first thing in <c>Main</c> to cover it too.
/// </para>
/// <para>
/// The guard decides from facts and never runs anything that could crash to find out: CPUID's cache leaves, sysfs,
/// and oneDNN's own record of the CPU (the static Xbyak <c>Cpu</c> object, found through libtorch_cpu.so's
/// <c>.symtab</c> and checked against CPUID before it is read). When that record holds implausible sizes it writes
/// plausible ones (from sysfs, CPUID, <c>/proc/cpuinfo</c> or oneDNN's defaults), then runs a canary, the 1x1
/// channels_last convolution the bug gets wrong, against a float64 reference. If anything fails it turns oneDNN off
/// in ATen (<c>at::globalContext().setUserEnabledMkldnn(false)</c>, PyTorch's <c>torch.backends.mkldnn.enabled</c>):
/// right results, slower convolutions. It writes one line to standard error when it acts.
/// </para>
/// <para>
/// Override with the environment variable <c>RESIDUALNET_ONEDNN</c>: <c>auto</c> (default), <c>on</c> (leave oneDNN
/// as it is), <c>off</c> (turn oneDNN off). Only Linux x64 is checked; elsewhere the guard does nothing. It touches
/// only the CPU: CUDA work is unaffected.
/// </para>
/// </remarks>
public static class OneDnnGuard
{
    /// <summary>The override variable: <c>auto</c>, <c>on</c> or <c>off</c> (case-insensitive).</summary>
    public const string EnvironmentVariable = "RESIDUALNET_ONEDNN";

    /// <summary>Data cache sizes below this (4 KiB) are implausible for any x86-64 CPU; the affected machines read 1 byte.</summary>
    public const long MinimumPlausibleCacheBytes = 4096;

    private static readonly object _gate = new();
    private static volatile OneDnnGuardStatus? _status;

    /// <summary>The guard's status in this process, or null when it has not run yet.</summary>
    public static OneDnnGuardStatus? Status => _status;

    /// <summary>
    /// Runs the guard now if it has not run in this process (thread-safe; it runs once) and returns its status. Call it
    /// first thing in <c>Main</c> when plain TorchSharp code runs before any ResidualNet call.
    /// </summary>
    /// <returns>What the guard found, decided and did.</returns>
    /// <exception cref="InvalidOperationException"><c>RESIDUALNET_ONEDNN</c> holds something other than auto, on or off.</exception>
    public static OneDnnGuardStatus Ensure()
    {
        var status = _status;
        if (status is not null)
        {
            return status;
        }

        lock (_gate)
        {
            if (_status is null)
            {
                var mode = ParseMode(Environment.GetEnvironmentVariable(EnvironmentVariable));
                var result = Run(mode);
                if (result.Notice is not null)
                {
                    Console.Error.WriteLine(result.Notice);
                }

                _status = result;
            }

            return _status;
        }
    }

    /// <summary>The fast path every entry point calls: one field read once the guard has run.</summary>
    internal static void EnsureApplied()
    {
        if (_status is null)
        {
            Ensure();
        }
    }

    /// <summary>Parses the override; null or empty means auto.</summary>
    /// <exception cref="InvalidOperationException">Any other value than auto, on or off.</exception>
    internal static OneDnnGuardMode ParseMode(string? value)
    {
        string v = (value ?? string.Empty).Trim();
        if (v.Length == 0 || v.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return OneDnnGuardMode.Auto;
        }

        if (v.Equals("on", StringComparison.OrdinalIgnoreCase))
        {
            return OneDnnGuardMode.On;
        }

        if (v.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            return OneDnnGuardMode.Off;
        }

        throw new InvalidOperationException(
            $"The environment variable {EnvironmentVariable} is '{value}'; expected auto, on or off (or unset, which means auto).");
    }

    /// <summary>
    /// TEST ONLY. Makes this process look like a CPU that hides its caches: builds oneDNN's CPU object (a tiny matrix
    /// product) and writes 1-byte data cache sizes, each shared by 1, into it, as read on the affected machines. Must run
    /// before the guard (it throws once the guard has run). Not for users: it breaks libtorch's convolutions on purpose.
    /// </summary>
    /// <returns>oneDNN's record after the write.</returns>
    /// <exception cref="InvalidOperationException">The guard already ran, or the object cannot be located safely.</exception>
    internal static OneDnnCpuRecord SimulateHiddenCachesForTesting()
    {
        lock (_gate)
        {
            if (_status is not null)
            {
                throw new InvalidOperationException("The oneDNN guard already ran in this process; simulate before any ResidualNet call.");
            }

            OneDnnCanary.TouchLibTorch();
            var lib = LibTorchCpu.Locate(CpuCacheProbe.ReadThisMachine());
            var record = lib.ReadRecord();
            if (!record.IsUsable || record.DataCacheLevels == 0)
            {
                throw new InvalidOperationException($"Cannot simulate hidden caches: {record.Problem ?? "oneDNN knows no cache levels"}.");
            }

            var ones = Enumerable.Range(1, record.DataCacheLevels).Select(level => new CacheLevelInfo(level, 1, 1)).ToList();
            return lib.WriteCacheSizes(ones);
        }
    }

    /// <summary>
    /// TEST AND BENCHMARK ONLY. Writes the sizes the guard would write (for the levels whose record is implausible)
    /// without deciding anything or running the canary, so that a benchmark can compare this correction with the other
    /// settings in one process.
    /// </summary>
    /// <returns>oneDNN's record after the write.</returns>
    /// <exception cref="InvalidOperationException">The object cannot be located safely.</exception>
    internal static OneDnnCpuRecord CorrectCacheSizesForTesting()
    {
        var cpu = CpuCacheProbe.ReadThisMachine();
        var lib = LibTorchCpu.Locate(cpu);
        var record = lib.ReadRecord();
        if (!record.IsUsable)
        {
            throw new InvalidOperationException($"Cannot correct the cache sizes: {record.Problem}.");
        }

        return lib.WriteCacheSizes(GuardPolicy.ChooseCacheSizes(cpu, record).Sizes);
    }

    /// <summary>
    /// TEST AND BENCHMARK ONLY. Sets ATen's oneDNN switch directly (no checks), as the speed comparison needs to switch
    /// back and forth in one process. Returns the value read back, or null when the switch is unreachable.
    /// </summary>
    internal static bool? SetOneDnnEnabledForTesting(bool enabled) =>
        LibTorchCpu.Locate(CpuCacheProbe.ReadThisMachine()).SetMkldnnEnabled(enabled);

    private static OneDnnGuardStatus Run(OneDnnGuardMode mode)
    {
        var clock = Stopwatch.StartNew();
        bool isLinux = OperatingSystem.IsLinux();
        bool isX64 = RuntimeInformation.ProcessArchitecture == Architecture.X64;
        var cpu = CpuCacheProbe.ReadThisMachine();
        LibTorchCpu? lib = null;
        OneDnnCpuRecord? record = null;
        bool? enabled = null;
        string? switchProblem = null;
        if (GuardPolicy.NeedsNativeFacts(mode, isLinux, isX64))
        {
            try
            {
                OneDnnCanary.TouchLibTorch();
                lib = LibTorchCpu.Locate(cpu);
                if (lib.ObjectAddress == IntPtr.Zero && lib.GuardAddress != IntPtr.Zero && !cpu.CachesHidden && mode == OneDnnGuardMode.Auto)
                {
                    // The matrix product did not make oneDNN describe the CPU; a tiny NCHW convolution does. Safe here:
                    // the CPU reports plausible caches, so oneDNN's sizes will be plausible too.
                    OneDnnCanary.TouchConvolution();
                    lib = LibTorchCpu.Locate(cpu);
                }

                record = lib.ReadRecord();
                enabled = lib.IsMkldnnEnabled();
                switchProblem = lib.SwitchProblem;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or NotSupportedException
                or TypeInitializationException or BadImageFormatException or ExternalException)
            {
                return Finish(clock, new OneDnnGuardStatus
                {
                    Mode = mode,
                    Decision = OneDnnGuardDecision.Unresolved,
                    Reason = $"libtorch could not be used: {e.Message}",
                    Cpu = cpu,
                });
            }
        }

        var plan = GuardPolicy.Decide(new GuardInputs(mode, isLinux, isX64, cpu, record, enabled, switchProblem));
        var decision = plan.Decision;
        string reason = plan.Reason;
        IReadOnlyList<CacheLevelInfo> written = [];
        string writtenSources = string.Empty;
        double? canary = null;
        bool runCanary = plan.RunCanary;
        switch (plan.Action)
        {
            case GuardAction.WriteCacheSizes:
                var after = lib!.WriteCacheSizes(plan.SizesToWrite);
                written = plan.SizesToWrite;
                writtenSources = plan.SizeSources;
                if (!after.SizesPlausible)
                {
                    (decision, reason) = TurnOff(lib, $"{reason}; the sizes written did not read back plausibly ({GuardPolicy.FormatSizes(after.DataCacheSizes)})");
                    runCanary = false;
                }

                break;
            case GuardAction.DisableOneDnn:
                (decision, reason) = TurnOff(lib!, reason);
                break;
        }

        if (runCanary)
        {
            canary = OneDnnCanary.Run();
            if (!(canary <= OneDnnCanary.Tolerance))
            {
                (decision, reason) = TurnOff(lib, $"{reason}; but the canary 1x1 channels_last convolution was wrong by {canary:E1} (relative)");
            }
        }

        return Finish(clock, new OneDnnGuardStatus
        {
            Mode = mode,
            Decision = decision,
            Reason = reason,
            Cpu = cpu,
            OneDnn = record,
            WrittenCacheSizes = written,
            WrittenCacheSizeSources = writtenSources,
            CanaryRelativeError = canary,
            OneDnnEnabled = lib?.IsMkldnnEnabled(),
        });
    }

    private static (OneDnnGuardDecision, string) TurnOff(LibTorchCpu? lib, string reason)
    {
        bool? now = lib?.SetMkldnnEnabled(false);
        return now == false
            ? (OneDnnGuardDecision.OneDnnDisabled, reason)
            : (OneDnnGuardDecision.Unresolved, $"{reason}; and oneDNN could not be turned off ({lib?.SwitchProblem ?? "switch did not take"})");
    }

    private static OneDnnGuardStatus Finish(Stopwatch clock, OneDnnGuardStatus status) =>
        status with { Elapsed = clock.Elapsed, Notice = NoticeFor(status) };

    /// <summary>The one line for standard error, or null when the guard has nothing to report.</summary>
    internal static string? NoticeFor(OneDnnGuardStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        string env = EnvironmentVariable;
        return status.Decision switch
        {
            OneDnnGuardDecision.CacheSizesCorrected => string.Create(CultureInfo.InvariantCulture,
                $"ResidualNet: {status.Reason}, which makes libtorch's oneDNN crash (SIGFPE) or compute wrong convolutions; wrote {status.WrittenCacheSizeSources} into oneDNN's CPU record and a canary convolution is now right ({status.CanaryRelativeError:E1}). Set {env}=off to turn oneDNN off instead, or {env}=on to leave it alone."),
            OneDnnGuardDecision.OneDnnDisabled when status.Mode == OneDnnGuardMode.Off =>
                $"ResidualNet: {env}=off: turned oneDNN off in libtorch (right results, slower convolutions). Unset {env} or set it to auto for the default.",
            OneDnnGuardDecision.OneDnnDisabled =>
                $"ResidualNet: {status.Reason}; turned oneDNN off in libtorch to keep results right (slower convolutions). Set {env}=on to leave oneDNN on.",
            OneDnnGuardDecision.Unresolved =>
                $"ResidualNet: could not guard libtorch's oneDNN: {status.Reason}; carrying on unchanged. Set {env}=on to silence this.",
            _ => null,
        };
    }
}
