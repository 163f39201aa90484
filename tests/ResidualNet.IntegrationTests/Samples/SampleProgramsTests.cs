using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using FluentAssertions;
using ResidualNet.Data;
using ResidualNet.Samples;
using ResidualNet.Samples.Classify;
using ResidualNet.Samples.Degradation;
using ResidualNet.Samples.Training;
using ResidualNet.TestSupport;
using Xunit;

namespace ResidualNet.IntegrationTests.Samples;

/// <summary>Runs each sample's entry point in quick mode, in-process, and feeds each one bad input.</summary>
public sealed class SampleProgramsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "residualnet-samples-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, true);
        }
    }


    private static SampleResult Run(Func<string[], SampleConsole, CancellationToken, int> sample, CancellationToken token, params string[] args) =>
        SampleRun.Capture(sample, token, args);

    private static SampleResult Classify(params string[] args) => Run(ClassifySample.Run, CancellationToken.None, args);

    private static SampleResult Degradation(params string[] args) => Run(DegradationSample.Run, CancellationToken.None, args);

    /// <summary>A small IDX folder written by the test, so these tests do not depend on the Debian package.</summary>
    private string DataFolder(int train = 300, int test = 100)
    {
        string dir = Path.Combine(_dir, "data");
        if (!Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir);
            foreach (var (prefix, count, seed) in new[] { ("train", train, 1), ("t10k", test, 2) })
            {
                var (images, labels) = SyntheticImages.Generate(count, seed);
                IdxFile.WriteImages(Path.Combine(dir, $"{prefix}-images-idx3-ubyte.gz"), images, gzip: true);
                IdxFile.WriteLabels(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte.gz"), labels, gzip: true);
            }
        }

        return dir;
    }

    [Fact]
    public void ClassifyQuickTrainsSavesReloadsAndClassifies()
    {
        var clock = Stopwatch.StartNew();
        var r = Classify("--quick", "--threads", "1", "--data", DataFolder(), "--out", Path.Combine(_dir, "c"));

        r.Error.Should().BeEmpty();
        r.Code.Should().Be(0);
        r.Out.Should().Contain("300 training, 100 test images").And.Contain("Model 'resnet-20': 269,434 parameters").And.Contain("epoch 1: train loss").And.Contain("loaded it back into a fresh network");
        r.Out.Split('\n').Count(l => l.StartsWith("  test image ", StringComparison.Ordinal)).Should().Be(8);
        r.Out.Should().MatchRegex(@"Test accuracy: \d+\.\d\d% \(\d+/100\) after 1 epoch\(s\)");
        File.Exists(Path.Combine(_dir, "c", "resnet-20.weights")).Should().BeTrue();
        File.ReadAllLines(Path.Combine(_dir, "c", "classify.csv")).Should().HaveCount(2);
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30));
    }

    /// <summary>Category=Data: skipped with the reason without the real data set, failed where RESIDUALNET_REQUIRE_DATA=1.</summary>
    [SkippableFact]
    [Trait("Category", "Data")]
    public void ClassifyQuickOnTheRealDataWhenInstalled()
    {
        TestEnvironment.RequireFashionMnist();

        var r = Classify("--quick", "--threads", "1", "--show", "2", "--out", Path.Combine(_dir, "real"));
        r.Code.Should().Be(0, r.Error);
        r.Out.Should().Contain($"Fashion-MNIST from '{FashionMnist.DefaultDirectory}': 2000 training, 1000 test images.");
        r.Out.Should().MatchRegex(@"Test accuracy: \d+\.\d\d% \(\d+/1000\)");
    }

    [Fact]
    public void DegradationQuickWritesCsvPngsAndResumesAfterAStop()
    {
        string outDir = Path.Combine(_dir, "d");
        string[] args = ["--quick", "--threads", "1", "--data", DataFolder(), "--out", outDir, "--epochs", "2", "--subset", "128", "--test-subset", "100", "--models", "plain-20,resnet-20"];

        // A stop requested before the first batch ends: the first model stops after one batch and keeps a checkpoint.
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var stopped = Run(DegradationSample.Run, cancelled.Token, args);
        stopped.Code.Should().Be(130, stopped.Error);
        stopped.Out.Should().Contain("Stopped by Ctrl+C while training plain-20 (epoch 1, batch 1)").And.Contain("--resume");
        File.Exists(Path.Combine(outDir, "checkpoints", "plain-20.state.json")).Should().BeTrue();

        var resumed = Degradation([.. args, "--resume"]);
        resumed.Code.Should().Be(0, resumed.Error);
        resumed.Error.Should().BeEmpty();
        resumed.Out.Should().Contain("plain-20 epoch 2:").And.Contain("resnet-20 epoch 2:").And.Contain("Final errors");
        var csv = File.ReadAllLines(Path.Combine(outDir, "degradation.csv"));
        csv.Should().HaveCount(5);
        csv.Skip(1).Select(l => string.Join(',', l.Split(',').Take(2))).Should().Equal("plain-20,1", "plain-20,2", "resnet-20,1", "resnet-20,2");
        new FileInfo(Path.Combine(outDir, "degradation-train-error.png")).Length.Should().BeGreaterThan(5000);
        new FileInfo(Path.Combine(outDir, "degradation-test-error.png")).Length.Should().BeGreaterThan(5000);
    }

    public static TheoryData<string, string[], string> BadInputs() => new()
    {
        { "classify", ["--epochs", "abc"], "error: --epochs expects a whole number; got 'abc'." },
        { "classify", ["--batch-size", "0"], "error: --batch-size must be between 1 and 65536; got 0." },
        { "classify", ["--lr", "-0.5"], "error: --lr must be greater than 0 and at most 10; got -0.5." },
        { "classify", ["--threads", "0"], "error: --threads must be between 1 and 1024; got 0." },
        { "classify", ["--frobnicate"], "error: Unknown option 'frobnicate' (run with --help to list the options)." },
        { "classify", ["--epochs"], "error: --epochs needs a value." },
        { "degradation", ["--models", ","], "error: --models expects a comma-separated list; got ','." },
        { "degradation", ["--plot", "DATA"], "error: results file 'DATA' does not exist." },
        { "degradation", ["--models", "resnet-9000"], "error: --models: unknown item 'resnet-9000'; choose from plain-20, plain-56, resnet-20, resnet-56." },
        { "classify", ["--model", "resnet-9000"], "error: --model: unknown item 'resnet-9000'; choose from resnet-20, wide-resnet-6, wide-resnet-10." },
        { "classify", ["--augment", "sideways"], "error: --augment must be one of cropflip, flip, none; got 'sideways'." },
        { "degradation", ["--schedule", "sometimes"], "error: --schedule must be one of constant, step, cosine; got 'sometimes'." },
        { "degradation", ["--subset", "-5"], "error: --subset must be between 0 and 10000000; got -5." },
        { "classify", ["--subset", "301", "--data", "DATA"], "error: --subset 301 is larger than the 300 training images in 'DATA/train-images-idx3-ubyte.gz'." },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void NonsenseOptionsEndWithOneLineAndExitCode2(string sample, string[] args, string expected)
    {
        string data = DataFolder();
        args = args.Select(a => a == "DATA" ? data : a).ToArray();
        var r = sample == "classify" ? Classify(args) : Degradation(args);
        r.Code.Should().Be(2);
        r.Error.Should().Be(expected.Replace("DATA", data) + "\n");
    }

    [Theory]
    [InlineData("classify")]
    [InlineData("degradation")]
    public void MissingDataFolderIsOneLine(string sample)
    {
        string missing = Path.Combine(_dir, "no-such-folder");
        var r = sample == "classify" ? Classify("--quick", "--data", missing) : Degradation("--quick", "--data", missing);
        r.Code.Should().Be(2);
        r.Error.Should().Be($"error: Fashion-MNIST folder '{missing}' does not exist.\n");
    }

    [Theory]
    [InlineData("classify", "magic")]
    [InlineData("degradation", "magic")]
    [InlineData("classify", "truncated")]
    [InlineData("degradation", "counts")]
    public void CorruptDataFileIsOneLine(string sample, string damage)
    {
        string dir = DataFolder();
        string labels = Path.Combine(dir, "t10k-labels-idx1-ubyte.gz");
        string images = Path.Combine(dir, "t10k-images-idx3-ubyte.gz");
        switch (damage)
        {
            case "magic":
                File.Copy(images, labels, overwrite: true);
                break;
            case "truncated":
                byte[] bytes = File.ReadAllBytes(images);
                File.Delete(images);
                File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), bytes[..(bytes.Length / 3)]);
                break;
            default:
                IdxFile.WriteLabels(labels, new byte[99], gzip: true);
                break;
        }

        var r = sample == "classify" ? Classify("--quick", "--data", dir) : Degradation("--quick", "--data", dir);

        r.Code.Should().Be(2);
        r.Error.Should().StartWith("error: ").And.EndWith("\n");
        r.Error.TrimEnd('\n').Should().NotContain("\n", "the error is a single line");
        r.Error.Should().Contain(dir);
        r.Error.Should().Contain(damage switch
        {
            "magic" => "magic number 0x00000803; expected 0x00000801",
            "truncated" => "t10k-images-idx3-ubyte",
            _ => "holds 100 images but label file",
        });
    }

    [Fact]
    public void WithoutDataTheSamplesSaySoAndUseGeneratedData()
    {
        var log = new StringWriter();
        string missing = Path.Combine(_dir, "not-installed");
        using var data = SampleData.Load(null, 120, 40, seed: 3, log, clampSubsets: false, defaultDirectory: missing);

        data.IsSynthetic.Should().BeTrue();
        data.Train.Count.Should().Be(120);
        data.Test.Count.Should().Be(40);
        data.Train.Images.shape.Should().Equal(120, 1, 28, 28);
        log.ToString().Should().Contain($"Fashion-MNIST not found: no --data given and '{missing}' does not exist").And.Contain("Using GENERATED stand-in data");
    }

    [Fact]
    public void HelpExitsZeroAndListsOptions()
    {
        var r = Degradation("--help");
        r.Code.Should().Be(0);
        r.Error.Should().BeEmpty();
        r.Out.Should().Contain("--models <LIST>").And.Contain("--resume").And.Contain("--quick").And.Contain("--device <DEVICE>").And.Contain("out/degradation");
    }

    /// <summary>Where CUDA is absent, <c>--device cuda</c> is one line and exit code 2, before any data is loaded.</summary>
    [SkippableFact]
    public void CudaWithoutCudaIsOneLine()
    {
        Skip.If(TorchSharp.torch.cuda.is_available(), "CUDA is available here: the error cannot happen.");
        var r = Classify("--device", "cuda", "--data", Path.Combine(_dir, "not-read"));
        r.Code.Should().Be(2);
        r.Out.Should().BeEmpty();
        r.Error.Should().StartWith("error: device cuda was asked for, but torch.cuda.is_available() is false").And.EndWith("use --device cpu.\n");
    }

    [Fact]
    public void DegradationPlotsACsvWrittenEarlier()
    {
        string csv = Path.Combine(_dir, "gpu", "degradation.csv");
        CsvResults.Write(csv, [new("plain-20", [new(1, 2.3, 0.9, 2.2, 0.85, 0.1, 12), new(2, 2.1, 0.7, 2.0, 0.65, 0.1, 12)]), new("resnet-20", [new(1, 2.2, 0.8, 2.1, 0.75, 0.1, 11)])]);
        string outDir = Path.Combine(_dir, "plots");

        var r = Degradation("--plot", csv, "--out", outDir);

        r.Code.Should().Be(0, r.Error);
        r.Out.Should().Be($"Plotted '{csv}' into '{outDir}'.\n");
        new FileInfo(Path.Combine(outDir, "degradation-train-error.png")).Length.Should().BeGreaterThan(5000);
        new FileInfo(Path.Combine(outDir, "degradation-test-error.png")).Length.Should().BeGreaterThan(5000);
        File.Exists(Path.Combine(outDir, "degradation.csv")).Should().BeFalse("--plot trains nothing and writes no CSV");
    }

    /// <summary>The real process: Main's exit code and stderr, and Ctrl+C (SIGINT) stopping after a batch.</summary>
    [Fact]
    public void ProcessExitCodesAndCtrlC()
    {
        string dll = SampleDll("Classify", "ResidualNet.Samples.Classify.dll");
        var bad = RunProcess(dll, "--epochs abc", TimeSpan.FromSeconds(60), interruptAfterOutput: null);
        bad.Code.Should().Be(2);
        bad.Error.Should().Be("error: --epochs expects a whole number; got 'abc'.\n");

        string outDir = Path.Combine(_dir, "sigint");
        var stopped = RunProcess(
            dll,
            $"--data \"{DataFolder()}\" --subset 300 --epochs 200 --batch-size 4 --threads 1 --out \"{outDir}\"",
            TimeSpan.FromSeconds(120),
            interruptAfterOutput: "Model 'resnet-20'");
        stopped.Code.Should().Be(130, stopped.Out + stopped.Error);
        stopped.Error.Should().Contain("Ctrl+C: stopping after the current batch");
        stopped.Out.Should().Contain("Stopped by Ctrl+C at epoch").And.Contain("--resume");
        File.Exists(Path.Combine(outDir, "checkpoints", "resnet-20.state.json")).Should().BeTrue();
    }

    private static string SampleDll(string project, string file)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ResidualNet.sln")))
        {
            dir = dir.Parent;
        }

        dir.Should().NotBeNull();
        string configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        string path = Path.Combine(dir!.FullName, "samples", project, "bin", configuration, "net10.0", file);
        File.Exists(path).Should().BeTrue($"{path} is built with the test project");
        return path;
    }

    private static SampleResult RunProcess(string dll, string arguments, TimeSpan timeout, string? interruptAfterOutput)
    {
        var info = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        var error = new System.Text.StringBuilder();
        bool interrupted = false;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.Append(e.Data).Append('\n');
            }

            if (interruptAfterOutput is not null && !interrupted && e.Data.Contains(interruptAfterOutput, StringComparison.Ordinal))
            {
                interrupted = true;
                Thread.Sleep(1500);
                using var kill = Process.Start("kill", $"-INT {process.Id}");
                kill.WaitForExit();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (error)
                {
                    error.Append(e.Data).Append('\n');
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"sample did not finish in {timeout}: {output}");
        }

        process.WaitForExit();
        return new SampleResult(process.ExitCode, output.ToString(), error.ToString());
    }
}
