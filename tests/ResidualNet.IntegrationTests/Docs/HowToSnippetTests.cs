using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using FluentAssertions;
using ResidualNet.Diagnostics;
using ResidualNet.Hooks;
using ResidualNet.Plotting;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ResidualNet.IntegrationTests.Docs;

/// <summary>
/// docs/how-to/gradient-hooks.md: every C# block of the page appears verbatim (up to indentation and its
/// <c>using</c> directives) in this file, where it compiles against the current API and runs.
/// </summary>
public class HowToSnippetTests
{
    [Fact]
    public void Every_code_block_of_the_page_is_in_this_file()
    {
        string page = File.ReadAllText(RepositoryFile("docs/how-to/gradient-hooks.md"));
        string source = Normalise(File.ReadAllText(ThisFile()));
        var blocks = Regex.Matches(page, "```csharp\\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();

        blocks.Should().HaveCount(5, "the page has five C# examples");
        foreach (var block in blocks)
        {
            source.Should().Contain(Normalise(block), "each example of the page must compile here");
        }
    }

    [Fact]
    public void Tensor_gradient_hook_snippet_runs()
    {
        torch.manual_seed(0);
        using var layer1 = Linear(4, 3);
        using var layer2 = Linear(3, 2);
        using var x = torch.randn(5, 4);
        float seen = 0;
        Func<Tensor, float> remember = t => seen = t.item<float>();

        // snippet 1
        var (hidden, handle) = layer1.call(x).RegisterGradientHook(g =>
        {
            Console.WriteLine($"dL/dhidden norm: {g.norm().item<float>()}");
            return g * 0.5;            // or null to keep the gradient
        });
        var loss = layer2.call(hidden).sum();
        loss.backward();               // layer1's parameters receive half their gradient
        handle.Dispose();

        // Against a run without the hook: layer1's gradient is halved.
        var halved = layer1.weight!.grad!.clone();
        layer1.zero_grad();
        layer2.zero_grad();
        layer2.call(layer1.call(x)).sum().backward();
        remember((halved * 2 - layer1.weight!.grad!).abs().max());
        seen.Should().BeLessThan(1e-6f);
        handle.LastError.Should().BeNull();
    }

    [Fact]
    public void Module_hook_snippets_run()
    {
        torch.manual_seed(0);
        using var block = Sequential(Linear(4, 4), ReLU());
        using var conv = Conv2d(2, 2, 3, padding: 1);
        var activations = new List<Tensor>();
        {
            // snippet 2
            using var handle = block.RegisterFullBackwardHook((module, gradInput, gradOutput) =>
            {
                // gradInput = dL/d(input) (null if the input does not require grad), gradOutput = dL/d(output)
                Console.WriteLine($"{gradInput?.norm().item<float>()} <- {gradOutput.norm().item<float>()}");
                return null;               // or a replacement for gradInput, e.g. gradInput! * 2
            });
            using var input = torch.randn(3, 4).requires_grad_(true);
            block.call(input).sum().backward();
            handle.LastError.Should().BeNull();
            input.grad.Should().NotBeNull();
        }

        {
            // snippet 3
            using var observe = conv.RegisterForwardHook((Module<Tensor, Tensor> m, Tensor input, Tensor output) =>
                activations.Add(output.detach().clone()));          // keep copies, never the tensors themselves
            using var replace = conv.RegisterForwardHook((m, input, output) => output.clamp(-3, 3));
            using var pre = conv.RegisterForwardPreHook((m, input) => input * 2);

            using var x = torch.randn(1, 2, 5, 5) * 10;
            using var y = conv.call(x);
            y.abs().max().item<float>().Should().BeLessThanOrEqualTo(3f);
            activations.Should().HaveCount(1);
        }
    }

    [Fact]
    public void Monitor_plot_tensorboard_and_identity_term_snippets_run()
    {
        string folder = Path.Combine(Path.GetTempPath(), "residualnet-howto-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(folder);
        try
        {
            torch.manual_seed(0);
            using var model = ResidualNet.Models.ModelRegistry.CreateWithPresets().Create("resnet20");
            using var plainModel = ResidualNet.Models.ModelRegistry.CreateWithPresets().Create("plain_resnet20");
            var optimizer = optim.SGD(model.parameters(), 0.01);
            using var images = torch.randn(4, 3, 16, 16);
            using var labels = torch.tensor(new long[] { 0, 1, 2, 3 });
            int steps = 11;

            // snippet 4
            using var monitor = GradientFlowMonitor.Attach(model, new GradientFlowMonitorOptions
            {
                Interval = 10,              // record steps 0, 10, 20, ...
                TrackUpdateRatio = true,    // ||Δw|| / ||w|| across optimizer.step()
            });

            for (int step = 0; step < steps; step++)
            {
                using var scope = torch.NewDisposeScope();
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.call(images), labels);
                loss.backward();
                var record = monitor.RecordStep();          // null on steps the interval skips
                optimizer.step();
                monitor.RecordUpdate();                     // only with TrackUpdateRatio
                if (record is not null)
                {
                    Console.WriteLine(GradientFlowAnalysis.Diagnose(record));
                }
            }

            Console.Write(GradientFlowReport.ToText(monitor.Steps[^1]));
            GradientFlowReport.WriteCsv(monitor.Steps, "gradflow.csv");
            GradientFlowReport.WriteJson(monitor.Steps, "gradflow.json");

            monitor.Steps.Should().HaveCount(2, "steps 0 and 10 of 11");
            File.Exists("gradflow.csv").Should().BeTrue();
            File.Exists("gradflow.json").Should().BeTrue();

            var residualStep = monitor.Steps[^1];
            GradientFlowStep plainStep;
            using (var plainMonitor = GradientFlowMonitor.Attach(plainModel))
            {
                nn.functional.cross_entropy(plainModel.call(images), labels).backward();
                plainStep = plainMonitor.RecordStep()!;
            }

            var record2 = plainStep;
            int globalStep = 0;
            var blocks = model.Blocks.Take(3).Select(b => b.Module).ToList();    // layer1: shape-preserving
            using var x0 = torch.randn(2, 16, 8, 8);
            {
                var record = record2;

                // snippet 5
                // PNG, several runs overlaid, log y-axis (package ResidualNet.Plotting, ScottPlot)
                GradientFlowPlot.SavePng(new[]
                {
                    GradientDepthSeries.FromStep("plain-20", plainStep),
                    GradientDepthSeries.FromStep("residual-20", residualStep),
                }, "depth.png");

                // TensorBoard through TorchSharp's own SummaryWriter
                var writer = torch.utils.tensorboard.SummaryWriter("runs/exp1");
                TensorBoardGradientLogger.LogGradientHistograms(writer, model, globalStep);   // add_histogram per gradient
                TensorBoardGradientLogger.LogStep(writer, record);                           // add_scalar per norm

                // How far dx_L/dx_l is from the identity, for a stack of shape-preserving blocks
                var report = IdentityTerm.Measure(blocks, x0, new IdentityTermOptions { Samples = 8, Seed = 0 });
                Console.Write(report.ToText());   // per l: mean ||J'v - v||/||v|| and mean ||J'v||/||v||

                report.Rows.Should().HaveCount(3);
            }

            new FileInfo("depth.png").Length.Should().BeGreaterThan(1000);
            Directory.EnumerateFiles("runs/exp1").Should().NotBeEmpty();
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string Normalise(string code)
    {
        var lines = code.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !Regex.IsMatch(l, @"^using (static )?[A-Za-z0-9_.]+;$"));
        return string.Join("\n", lines);
    }

    private static string ThisFile([CallerFilePath] string path = "") => path;

    private static string RepositoryFile(string relative, [CallerFilePath] string path = "")
        => Path.Combine(Path.GetDirectoryName(path)!, "..", "..", "..", relative);
}
