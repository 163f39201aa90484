// A consumer of the ResidualNet package: restores it from a local feed and runs a ResNet forward pass.
// With --guard-cases it also runs the oneDNN guard's five cases (docs/torchsharp-on-linux.md), each in a child process
// of this program, so that a native crash (SIGFPE) shows as that case's exit code; --simulated first makes the process
// look like a CPU that hides its caches, through the guard's internal test hook (reached by reflection: test only).
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using ResidualNet.Models;
using ResidualNet.Performance;
using ResidualNet.Runtime;
using TorchSharp;
using static TorchSharp.torch;

string[] cases = ["resnet18-channels-last-eval", "resnet50-channels-last-eval", "resnext50-backward", "resnet50-training-nchw", "resnet50-training-channels-last"];
bool simulated = args.Contains("--simulated");

if (args.Length > 0 && args[0] == "--guard-cases")
{
    if (simulated && !(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64))
    {
        Console.WriteLine("oneDNN guard cases, simulated: skipped (the simulation needs Linux x64)");
        return 0;
    }

    int failures = 0;
    foreach (string name in cases)
    {
        var (exit, output) = RunSelf(["--case", name, .. simulated ? new[] { "--simulated" } : []]);
        string line = output.Split('\n').LastOrDefault(l => l.StartsWith("case ", StringComparison.Ordinal))?.Trim()
            ?? $"case {name}: no result";
        bool right = exit == 0 && line.EndsWith(": right", StringComparison.Ordinal);
        failures += right ? 0 : 1;
        Console.WriteLine(exit == 0 ? line : $"case {name}: CRASHED, exit code {exit}{(exit == 136 ? " (SIGFPE)" : "")}");
    }

    Console.WriteLine($"oneDNN guard cases{(simulated ? " (simulated hidden caches)" : "")}: {cases.Length - failures} of {cases.Length} right");
    return failures == 0 ? 0 : 1;
}

if (args.Length > 1 && args[0] == "--case")
{
    if (simulated)
    {
        var hook = typeof(OneDnnGuard).GetMethod("SimulateHiddenCachesForTesting", BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException("This ResidualNet has no SimulateHiddenCachesForTesting hook.");
        hook.Invoke(null, null);
    }

    return RunCase(args[1]);
}

using var model = ModelRegistry.Default.Create("resnet20");
model.eval();
using var x = torch.randn(2, 3, 32, 32);
using var y = model.call(x);
Console.WriteLine($"resnet20 forward pass: {string.Join('x', y.shape)}; ResidualNet {typeof(ResNet).Assembly.GetName().Version}; oneDNN guard: {OneDnnGuard.Status?.Decision}");
return 0;

static int RunCase(string name)
{
    manual_seed(0);
    using var scope = NewDisposeScope();
    string verdict;
    if (name.EndsWith("-channels-last-eval", StringComparison.Ordinal))
    {
        var net = ModelRegistry.Default.Create(name.Split('-')[0]);
        net.eval();
        using var noGrad = no_grad();
        var input = randn(2, 3, 64, 64);
        var expected = net.call(input);
        net.ToChannelsLast();
        var actual = net.call(input.ToChannelsLast());
        double relative = (actual - expected).norm().item<float>() / expected.norm().item<float>();
        verdict = $"channels_last vs NCHW relative difference {relative:E1}: {(relative < 1e-5 ? "right" : "WRONG")}";
    }
    else
    {
        bool resnext = name.StartsWith("resnext", StringComparison.Ordinal);
        bool channelsLast = name.EndsWith("channels-last", StringComparison.Ordinal);
        int size = resnext ? 32 : 64;
        var input = randn(2, 3, size, size);
        var target = randint(0, 1000, 2);
        double Step(bool layout)
        {
            manual_seed(1);
            var net = ModelRegistry.Default.Create(resnext ? "resnext50_32x4d" : "resnet50");
            net.train();
            using var optimizer = optim.SGD(net.parameters(), 0.01);
            var x = input;
            if (layout)
            {
                net.ToChannelsLast();
                x = input.ToChannelsLast();
            }

            var loss = nn.functional.cross_entropy(net.call(x), target);
            loss.backward();
            optimizer.step();
            bool finite = double.IsFinite(loss.item<float>()) && net.parameters().All(p => p.isfinite().all().item<bool>());
            return finite ? loss.item<float>() : double.NaN;
        }

        double loss = Step(channelsLast);
        if (channelsLast)
        {
            double reference = Step(false);
            double relative = Math.Abs(loss - reference) / Math.Abs(reference);
            verdict = $"training step, loss {loss:F4} vs NCHW {reference:F4} (relative {relative:E1}): {(relative < 1e-4 ? "right" : "WRONG")}";
        }
        else
        {
            verdict = $"{(resnext ? "backward" : "training step")}, loss {loss:F4}: {(double.IsFinite(loss) ? "right" : "WRONG (not finite)")}";
        }
    }

    Console.WriteLine($"case {name} [guard: {OneDnnGuard.Status?.Decision}]: {verdict}");
    return 0;
}

static (int Exit, string Output) RunSelf(string[] arguments)
{
    string self = Environment.ProcessPath!;
    var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(self) == "dotnet")
    {
        start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
    }

    foreach (string a in arguments)
    {
        start.ArgumentList.Add(a);
    }

    using var process = Process.Start(start)!;
    string output = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    return (process.ExitCode, output);
}
