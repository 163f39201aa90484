using System;
using System.Linq;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using TorchSharp;

namespace ResidualNet.Benchmarks;

/// <summary>
/// Entry point: <c>dotnet run -c Release --project benchmarks/ResidualNet.Benchmarks -- --filter '*'</c>
/// (any BenchmarkDotNet option works: <c>--list flat</c>, <c>--job dry</c>, <c>--filter '*Inference*'</c>).
/// Returns non-zero when a benchmark fails.
/// </summary>
public static class Program
{
    /// <summary>Runs the suites chosen on the command line.</summary>
    public static int Main(string[] args)
    {
        try
        {
            if (!torch.cuda.is_available())
            {
                Console.WriteLine("ResidualNet.Benchmarks: torch.cuda.is_available() is false (no CUDA libtorch loaded, or no GPU), so the CUDA cases are skipped; CPU cases run.");
            }
        }
        catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException)
        {
            Console.Error.WriteLine(
                "ResidualNet.Benchmarks: no libtorch could be loaded. Build with the default TorchBackend=cpu (TorchSharp-cpu), "
                + "or, for a build made with -p:TorchBackend=none, put a libtorch (CPU or CUDA) next to the program or on LD_LIBRARY_PATH. "
                + e.Message);
            return 2;
        }

        var config = DefaultConfig.Instance
            .AddDiagnoser(PeakNativeMemoryDiagnoser.Default)
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.StopOnFirstError);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config).ToList();
        bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
        return failed ? 1 : 0;
    }
}
