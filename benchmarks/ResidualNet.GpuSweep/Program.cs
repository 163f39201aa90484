using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using ResidualNet.Data;
using ResidualNet.Models;
using ResidualNet.Performance;
using ResidualNet.Samples;
using ResidualNet.Samples.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ResidualNet.GpuSweep;

/// <summary>
/// Measures images per second of inference and training steps on one device, for the workloads of
/// benchmarks/gpu/torchvision_peer.py, and optionally trains the Degradation networks on Fashion-MNIST there.
/// Every measurement is printed as one line "DOTNET {json}" (degradation epochs as "DEGRADATION {json}").
/// </summary>
internal static class Program
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static int Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"GpuSweep: {e.Message}");
            return 2;
        }

        if (!Preflight(options.Device))
        {
            return 3;
        }

        try
        {
            return Run(options);
        }
        catch (TypeInitializationException e)
        {
            Console.WriteLine($"DOTNET_LOAD_FAILED TorchSharp did not initialise: {e.InnerException?.Message.Split('\n')[0] ?? e.Message}");
            return 3;
        }
    }

    /// <summary>
    /// Loads the native libraries the way TorchSharp will, but reports the loader's own error (a missing library or
    /// symbol), which TorchSharp's message hides.
    /// </summary>
    private static bool Preflight(string device)
    {
        var libraries = new List<string>();
        if (device == "cuda")
        {
            libraries.Add("libtorch_cuda.so");
        }

        string[] candidates =
        {
            Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so"),
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
        };
        libraries.Add(candidates.FirstOrDefault(File.Exists) ?? "libLibTorchSharp.so");
        foreach (string library in libraries)
        {
            try
            {
                System.Runtime.InteropServices.NativeLibrary.Load(library);
                Console.WriteLine($"DOTNET_LOADED {library}");
            }
            catch (DllNotFoundException e)
            {
                Console.WriteLine($"DOTNET_LOAD_FAILED {library}: {e.Message}");
                return false;
            }
        }

        return true;
    }

    private static int Run(Options options)
    {
        Device device;
        if (options.Device == "cuda")
        {
            try
            {
                torch.InitializeDeviceType(DeviceType.CUDA);
            }
            catch (Exception e) when (e is InvalidOperationException or NotSupportedException or DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
            {
                Console.WriteLine($"DOTNET_NO_CUDA {e.GetType().Name}: {e.Message.Split('\n')[0]}");
                Console.WriteLine(e.ToString());
                return 3;
            }

            if (!torch.cuda.is_available())
            {
                Console.WriteLine("DOTNET_NO_CUDA torch.cuda.is_available() is false: no CUDA libtorch or no GPU.");
                return 3;
            }

            device = torch.CUDA;
        }
        else
        {
            device = torch.CPU;
        }

        Console.WriteLine($"DOTNET env device={device.type} cuda_devices={(device.type == DeviceType.CUDA ? torch.cuda.device_count() : 0)} cudnn={torch.cuda.is_cudnn_available()} threads={torch.get_num_threads()} runtime={Environment.Version}");
        Directory.CreateDirectory(options.Out);

        if (!options.SkipSweep)
        {
            var results = new List<Dictionary<string, object>>();
            foreach (Measurement m in Sweep.Plan(options.Quick, options.Mixed))
            {
                Dictionary<string, object> row = Sweep.Measure(m, device, options.Quick);
                results.Add(row);
                Console.WriteLine("DOTNET " + JsonSerializer.Serialize(row));
            }

            File.WriteAllText(Path.Combine(options.Out, "dotnet-sweep.json"), JsonSerializer.Serialize(results, Indented));
        }

        if (options.DegradationEpochs > 0)
        {
            Degradation.Run(device.type == DeviceType.CUDA ? TrainingDevice.Cuda : TrainingDevice.Cpu, options);
        }

        return 0;
    }
}

/// <summary>Command-line options.</summary>
internal sealed record Options(string Device, bool Quick, bool SkipSweep, int DegradationEpochs, string? Data, string Out, int Seed, int? TrainSubset, bool Mixed = false)
{
    internal static Options Parse(string[] args)
    {
        var o = new Options("cuda", false, false, 0, null, "gpu-results", 1, null);
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option {args[i]} needs a value");
            int Int(string name)
            {
                string v = Value();
                return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 0
                    ? n
                    : throw new ArgumentException($"{name} must be a whole number of 0 or more; got '{v}'");
            }

            o = args[i] switch
            {
                "--device" => o with { Device = Value() is "cpu" or "cuda" ? args[i] : throw new ArgumentException($"--device must be cpu or cuda; got '{args[i]}'") },
                "--quick" => o with { Quick = true },
                "--mixed" => o with { Mixed = true },
                "--skip-sweep" => o with { SkipSweep = true },
                "--degradation-epochs" => o with { DegradationEpochs = Int("--degradation-epochs") },
                "--train-subset" => o with { TrainSubset = Int("--train-subset") },
                "--seed" => o with { Seed = Int("--seed") },
                "--data" => o with { Data = Value() },
                "--out" => o with { Out = Value() },
                _ => throw new ArgumentException($"unknown option '{args[i]}' (options: --device cpu|cuda, --quick, --mixed, --skip-sweep, --degradation-epochs N, --train-subset N, --seed N, --data DIR, --out DIR)"),
            };
        }

        return o;
    }
}

/// <summary>One workload: a network, its implementation, batch size, mode and numeric variant.</summary>
internal sealed record Measurement(string Impl, string Model, int Batch, string Mode, string Precision, bool ChannelsLast);

/// <summary>The timed workloads, mirroring torchvision_peer.py.</summary>
internal static class Sweep
{
    private static readonly (string Precision, bool ChannelsLast)[] Variants = { ("fp32", false), ("fp32", true), ("bf16", true), ("fp16", true) };

    /// <summary>
    /// The workloads. <paramref name="mixed"/>: only the training rows of mixed precision (bf16 and fp16, channels_last)
    /// with the fp32 channels_last row beside them, each mixed row twice: "residualnet" (the flat-buffer trainer, no
    /// loss read per step) and "residualnet-perparameter" (the earlier per-parameter copies, reading the loss every
    /// step), so that one call compares old and new trainer with torchvision_peer.py --mixed.
    /// </summary>
    internal static IEnumerable<Measurement> Plan(bool quick, bool mixed = false)
    {
        if (mixed)
        {
            foreach ((string model, int batch) in quick ? new[] { ("resnet18", 2), ("resnet20", 4) } : new[] { ("resnet50", 64), ("resnet18", 64), ("resnet20", 256), ("resnet56", 256), ("resnet110", 256) })
            {
                yield return new Measurement("residualnet", model, batch, "training", "fp32", true);
                foreach (string precision in new[] { "bf16", "fp16" })
                {
                    yield return new Measurement("residualnet", model, batch, "training", precision, true);
                    yield return new Measurement("residualnet-perparameter", model, batch, "training", precision, true);
                }
            }

            yield break;
        }

        (string Model, int Batch)[] models = quick
            ? new[] { ("resnet18", 2), ("resnet20", 4) }
            : new[] { ("resnet50", 64), ("resnet18", 64), ("resnet20", 256), ("resnet56", 256), ("resnet110", 256) };
        foreach ((string model, int batch) in models)
        {
            foreach (string mode in new[] { "inference", "training" })
            {
                foreach ((string precision, bool channelsLast) in Variants)
                {
                    if (model is "resnet18" or "resnet50" && precision == "fp32")
                    {
                        yield return new Measurement("torchsharp-torchvision", model, batch, mode, precision, channelsLast);
                    }

                    yield return new Measurement("residualnet", model, batch, mode, precision, channelsLast);
                }
            }
        }
    }

    internal static Dictionary<string, object> Measure(Measurement m, Device device, bool quick)
    {
        int warmup = quick ? 1 : 10, iterations = quick ? 2 : 30;
        torch.manual_seed(0);
        long size = m.Model is "resnet18" or "resnet50" ? 224 : 32;
        if (quick)
        {
            size = 32;
        }

        using nn.Module<Tensor, Tensor> model = Create(m);
        model.to(device);
        using Tensor x = torch.randn(m.Batch, 3, size, size, device: device);
        using Tensor y = torch.randint(0, 10, m.Batch, device: device);
        ScalarType? low = m.Precision switch { "bf16" => ScalarType.BFloat16, "fp16" => ScalarType.Float16, _ => null };

        Action step;
        MixedPrecisionTrainer? trainer = null;
        optim.Optimizer? sgd = null;
        Tensor input = x;
        if (m.Mode == "inference")
        {
            model.eval();
            if (low is { } t)
            {
                model.to(t);
                input = x.to(t);
            }

            if (m.ChannelsLast)
            {
                model.ToChannelsLast();
                Tensor strided = input.ToChannelsLast();
                if (!ReferenceEquals(input, x))
                {
                    input.Dispose(); // the low-precision copy, superseded by its channels_last copy
                }

                input = strided;
            }

            step = () =>
            {
                using var scope = torch.NewDisposeScope();
                using var noGrad = torch.no_grad();
                model.call(input);
            };
        }
        else
        {
            model.train();
            if (low is { } t)
            {
                // channels_last first: the trainer lays its flat buffers out with the parameters' strides.
                if (m.ChannelsLast)
                {
                    model.ToChannelsLast();
                    input = x.ToChannelsLast();
                }

                bool perParameter = m.Impl == "residualnet-perparameter";
                var precision = t == ScalarType.Float16 ? MixedPrecisionOptions.Float16 : MixedPrecisionOptions.BFloat16;
                trainer = new MixedPrecisionTrainer(model, ps => torch.optim.SGD(ps, 0.01, momentum: 0.9), precision with { FlatBuffers = !perParameter });
                MixedPrecisionTrainer tr = trainer;
                Tensor batchInput = input;
                step = perParameter
                    ? () => tr.Step(batchInput, logits => nn.functional.cross_entropy(logits, y))   // the earlier trainer: per-parameter copies, the loss read every step
                    : () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        tr.StepDeferred(batchInput, logits => nn.functional.cross_entropy(logits, y));   // as the peer: nothing read back
                    };
            }
            else
            {
                if (m.ChannelsLast)
                {
                    model.ToChannelsLast();
                    input = x.ToChannelsLast();
                }

                sgd = torch.optim.SGD(model.parameters(), 0.01, momentum: 0.9);
                optim.Optimizer opt = sgd;
                step = () =>
                {
                    using var scope = torch.NewDisposeScope();
                    opt.zero_grad();
                    nn.functional.cross_entropy(model.call(input), y).backward();
                    opt.step();
                };
            }
        }

        for (int i = 0; i < warmup; i++)
        {
            step();
        }

        Synchronize(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            step();
        }

        Synchronize(device);
        double seconds = clock.Elapsed.TotalSeconds / iterations;
        trainer?.Dispose();
        sgd?.Dispose();
        if (!ReferenceEquals(input, x))
        {
            input.Dispose();
        }

        return new Dictionary<string, object>
        {
            ["impl"] = m.Impl,
            ["model"] = m.Model,
            ["batch"] = m.Batch,
            ["mode"] = m.Mode,
            ["precision"] = m.Precision,
            ["channels_last"] = m.ChannelsLast,
            ["ms_per_iter"] = Math.Round(seconds * 1e3, 3),
            ["images_per_s"] = Math.Round(m.Batch / seconds, 1),
        };
    }

    private static nn.Module<Tensor, Tensor> Create(Measurement m) => m.Impl switch
    {
        "torchsharp-torchvision" => m.Model == "resnet50" ? torchvision.models.resnet50() : torchvision.models.resnet18(),
        _ => ModelRegistry.Default.Create(m.Model),
    };

    internal static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA)
        {
            torch.cuda.synchronize();
        }
    }
}

/// <summary>
/// He et al. (2015) Fig. 6 on Fashion-MNIST with the Degradation sample's networks (<see cref="SampleNetworks.Degradation"/>)
/// and trainer (<see cref="ClassifierTrainer"/>, on this device): SGD momentum 0.9, weight decay 1e-4, batch 128,
/// learning rate 0.1 divided by 10 at 50% and 75% of the epochs, pad-2 random crops and horizontal flips; training and
/// test error after every epoch, printed as "DEGRADATION {json}" and written to degradation.csv (the sample's CSV layout,
/// which <c>samples/Degradation -- --plot</c> draws).
/// </summary>
internal static class Degradation
{
    internal static void Run(TrainingDevice device, Options options)
    {
        using DataSplits data = FashionMnist.Exists(options.Data)
            ? FashionMnist.Load(options.Data, options.TrainSubset is { } n ? new DataLoadOptions { TrainSubset = Subset.First(n) } : null)
            : throw new ArgumentException($"--data: no Fashion-MNIST files in '{options.Data ?? FashionMnist.DefaultDirectory}'");
        Console.WriteLine($"DEGRADATION data train={data.Train.Count} test={data.Test.Count} epochs={options.DegradationEpochs} device={device}");
        var training = new TrainingOptions
        {
            Epochs = options.DegradationEpochs,
            BatchSize = 128,
            LearningRate = 0.1,
            WeightDecay = 1e-4,
            Schedule = LearningRateSchedule.Step,
            Seed = options.Seed,
            Device = device,
        };
        var histories = new List<KeyValuePair<string, IReadOnlyList<EpochResult>>>();
        foreach (var network in SampleNetworks.Degradation)
        {
            torch.manual_seed(options.Seed);
            using var model = network.Create();
            var run = new ClassifierTrainer(network.Name, model, training).Train(data.Train, data.Test, resume: false, new JsonLines(network.Name), CancellationToken.None);
            histories.Add(new(network.Name, run.History));
            CsvResults.Write(Path.Combine(options.Out, "degradation.csv"), histories);
        }
    }

    private sealed class JsonLines(string name) : ITrainingObserver
    {
        public void EpochCompleted(EpochResult r) => Console.WriteLine("DEGRADATION " + JsonSerializer.Serialize(new
        {
            model = name,
            epoch = r.Epoch,
            lr = r.LearningRate,
            train_loss = r.TrainLoss,
            train_error = r.TrainError,
            test_loss = r.TestLoss,
            test_error = r.TestError,
            seconds = r.Seconds,
        }));
    }
}
