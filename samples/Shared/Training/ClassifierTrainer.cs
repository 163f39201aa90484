using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using ResidualNet.Data;
using ResidualNet.Performance;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ResidualNet.Samples.Training;

/// <summary>What <see cref="ClassifierTrainer.Train"/> did.</summary>
/// <param name="History">One result per finished epoch (including epochs restored from a checkpoint).</param>
/// <param name="Cancelled">Whether training stopped early on the cancellation token.</param>
/// <param name="ResumedFrom">Where training resumed (epoch, batch), or <see langword="null"/> for a fresh start.</param>
/// <param name="StoppedAt">Where a cancelled run stopped (epoch, next batch); a checkpoint, if kept, resumes there.</param>
/// <param name="CheckpointKept">Whether a checkpoint of the last state is on disk (fp32 training with a checkpoint folder).</param>
public sealed record TrainingRun(IReadOnlyList<EpochResult> History, bool Cancelled, (int Epoch, int Batch)? ResumedFrom, (int Epoch, int Batch)? StoppedAt, bool CheckpointKept);

/// <summary>
/// Trains any <c>Module&lt;Tensor, Tensor&gt;</c> classifier (logits N x classes) with SGD + momentum, weight decay and
/// a step or cosine schedule, on the CPU or a CUDA GPU (<see cref="TrainingOptions.Device"/>), in fp32 or bf16 mixed
/// precision (<see cref="TrainingOptions.Precision"/>, through ResidualNet's <see cref="MixedPrecisionTrainer"/>);
/// measures per-epoch training and test error. In fp32 it saves a checkpoint after every epoch and when cancelled,
/// and resumes from it: data order and augmentation depend only on (seed, epoch, batch), and the optimizer's momentum
/// is saved, so a resumed run continues exactly where the interrupted one stopped. bf16 training keeps no checkpoint.
/// </summary>
public sealed class ClassifierTrainer
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private readonly string _name;
    private readonly nn.Module<Tensor, Tensor> _model;
    private readonly TrainingOptions _options;
    private readonly Device _device;

    /// <summary>Creates a trainer.</summary>
    /// <param name="name">Model name (checkpoint file names; letters, digits, '-', '_' and '.').</param>
    /// <param name="model">The classifier, on the CPU in fp32; its parameters are trained in place. During training
    /// it lives on <see cref="TrainingOptions.Device"/>; afterwards it is back on the CPU, in fp32.</param>
    /// <param name="options">Training settings.</param>
    /// <exception cref="SampleException">CUDA was asked for and is not available.</exception>
    public ClassifierTrainer(string name, nn.Module<Tensor, Tensor> model, TrainingOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(' ', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{nameof(name)} must be usable as a file name; got '{name}'.", nameof(name));
        }

        options.Validate();
        _name = name;
        _model = model;
        _options = options;
        _device = options.Device.ToTorchDevice();
    }

    /// <summary>Paths of this model's checkpoint files.</summary>
    public (string Weights, string Optimizer, string State)? CheckpointPaths =>
        _options.CheckpointDirectory is { } dir
            ? (Path.Combine(dir, _name + ".weights"), Path.Combine(dir, _name + ".optimizer"), Path.Combine(dir, _name + ".state.json"))
            : null;

    /// <summary>Whether a checkpoint of this model exists.</summary>
    public bool HasCheckpoint => CheckpointPaths is { } p && File.Exists(p.State) && File.Exists(p.Weights) && File.Exists(p.Optimizer);

    /// <summary>
    /// Trains for <see cref="TrainingOptions.Epochs"/> epochs (or what remains of them when resuming). Checks the token
    /// after every batch: when cancelled it saves a checkpoint (fp32 with a checkpoint folder) and returns with
    /// <see cref="TrainingRun.Cancelled"/> set.
    /// </summary>
    /// <param name="train">Training set.</param>
    /// <param name="test">Test set (evaluated after every epoch).</param>
    /// <param name="resume">Continue from the checkpoint if one exists.</param>
    /// <param name="observer">Progress receiver, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Stops training after the current batch.</param>
    /// <returns>The history and how the run ended.</returns>
    /// <exception cref="SampleException">A checkpoint to resume from does not fit these settings, or is corrupt; or
    /// resuming was asked for in bf16.</exception>
    public TrainingRun Train(ImageDataSet train, ImageDataSet test, bool resume, ITrainingObserver? observer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        bool fullPrecision = _options.Precision == TrainingPrecision.Fp32;
        if (resume && HasCheckpoint && !fullPrecision)
        {
            throw new SampleException("--resume works with fp32 training only; rerun without --resume or with --precision fp32.");
        }

        bool onAccelerator = _device.type != DeviceType.CPU;
        if (onAccelerator)
        {
            _model.to(_device);
        }

        Step? step = null;
        try
        {
            step = fullPrecision ? new FullPrecisionStep(_model, _options) : new MixedPrecisionStep(_model, _options);
            return Run(train, test, resume && fullPrecision, step, observer ?? new NullObserver(), cancellationToken);
        }
        finally
        {
            step?.Dispose();
            if (onAccelerator)
            {
                _model.to(CPU);
            }
        }
    }

    /// <summary>The epoch loop, one for every device and precision; <paramref name="step"/> does the arithmetic.</summary>
    private TrainingRun Run(ImageDataSet train, ImageDataSet test, bool resume, Step step, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var batchOptions = new BatchOptions { BatchSize = _options.BatchSize, Shuffle = true, Seed = _options.Seed, Augmentation = _options.Augmentation };
        int batchCount = train.BatchCount(_options.BatchSize);
        var checkpoint = step.Checkpointable && _options.CheckpointDirectory is not null ? ((FullPrecisionStep)step).Optimizer : null;

        var history = new List<EpochResult>();
        int startEpoch = 0, startBatch = 0;
        double lossSum = 0, seconds = 0;
        long wrong = 0, seen = 0;
        (int, int)? resumedFrom = null;
        if (resume && checkpoint is not null && HasCheckpoint)
        {
            var state = LoadCheckpoint(checkpoint, train.Count);
            history.AddRange(state.History);
            startEpoch = state.CompletedEpochs;
            startBatch = state.NextBatch;
            lossSum = state.PartialLossSum;
            wrong = state.PartialWrong;
            seen = state.PartialSeen;
            seconds = state.PartialSeconds;
            resumedFrom = (startEpoch, startBatch);
        }

        for (int epoch = startEpoch; epoch < _options.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double rate = _options.LearningRate;
            _model.train();
            foreach (var batch in train.GetBatches(batchOptions, epoch, epoch == startEpoch ? startBatch : 0))
            {
                rate = _options.LearningRateAt(epoch, batch.Index, batchCount);
                foreach (var group in step.Optimizer.ParamGroups)
                {
                    group.LearningRate = rate;
                }

                var (loss, batchWrong) = step.Train(OnDevice(batch.Images, _device), OnDevice(batch.Labels, _device));
                wrong += batchWrong;
                lossSum += loss * batch.Size;
                seen += batch.Size;
                observer.BatchCompleted(epoch, batch.Index, batchCount, loss);
                if (cancellationToken.IsCancellationRequested && batch.Index < batchCount - 1)
                {
                    if (checkpoint is not null)
                    {
                        SaveCheckpoint(checkpoint, State(history, epoch, batch.Index + 1, lossSum, wrong, seen, seconds + clock.Elapsed.TotalSeconds, train.Count));
                    }

                    return new TrainingRun(history, true, resumedFrom, (epoch, batch.Index + 1), checkpoint is not null);
                }
            }

            var evaluation = Evaluate(_model, test, _options.EvaluationBatchSize, step.PrepareInput);
            var result = new EpochResult(epoch + 1, lossSum / Math.Max(1, seen), (double)wrong / Math.Max(1, seen), evaluation.Loss, evaluation.Error, rate, seconds + clock.Elapsed.TotalSeconds);
            history.Add(result);
            lossSum = 0;
            wrong = 0;
            seen = 0;
            seconds = 0;
            if (checkpoint is not null)
            {
                SaveCheckpoint(checkpoint, State(history, epoch + 1, 0, 0, 0, 0, 0, train.Count));
            }

            observer.EpochCompleted(result);
            if (cancellationToken.IsCancellationRequested && epoch + 1 < _options.Epochs)
            {
                return new TrainingRun(history, true, resumedFrom, (epoch + 1, 0), checkpoint is not null);
            }
        }

        return new TrainingRun(history, false, resumedFrom, null, checkpoint is not null);
    }

    /// <summary>Mean loss, error and the predicted class of every sample (evaluation mode, no gradients, no
    /// augmentation), on the device the model's parameters are on.</summary>
    /// <param name="model">The classifier; left in evaluation mode.</param>
    /// <param name="data">The data.</param>
    /// <param name="batchSize">Batch size.</param>
    /// <param name="prepareInput">Converts each fp32 batch to what the model takes (for example bf16 and channels_last
    /// for a model prepared for fast inference), or <see langword="null"/>.</param>
    /// <returns>Loss, error, sample count and predictions.</returns>
    public static Evaluation Evaluate(nn.Module<Tensor, Tensor> model, ImageDataSet data, int batchSize = 1000, Func<Tensor, Tensor>? prepareInput = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        model.eval();
        var device = DeviceOf(model);
        double lossSum = 0;
        long wrong = 0;
        var predictions = new List<long>(data.Count);
        using var noGrad = no_grad();
        foreach (var batch in data.GetBatches(new BatchOptions { BatchSize = batchSize, Shuffle = false }))
        {
            using var scope = NewDisposeScope();
            var images = OnDevice(batch.Images, device);
            var labels = OnDevice(batch.Labels, device);
            var logits = model.call(prepareInput is null ? images : prepareInput(images)).to(ScalarType.Float32);
            lossSum += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).item<float>();
            var predicted = logits.argmax(1);
            wrong += predicted.ne(labels).sum().item<long>();
            predictions.AddRange(predicted.cpu().data<long>().ToArray());
        }

        return new Evaluation(lossSum / data.Count, (double)wrong / data.Count, data.Count, predictions);
    }

    private TrainingState State(List<EpochResult> history, int completed, int nextBatch, double lossSum, long wrong, long seen, double seconds, int trainCount) => new()
    {
        Name = _name,
        Epochs = _options.Epochs,
        BatchSize = _options.BatchSize,
        Seed = _options.Seed,
        TrainCount = trainCount,
        LearningRate = _options.LearningRate,
        Schedule = _options.Schedule.ToString(),
        CompletedEpochs = completed,
        NextBatch = nextBatch,
        PartialLossSum = lossSum,
        PartialWrong = wrong,
        PartialSeen = seen,
        PartialSeconds = seconds,
        History = [.. history],
    };

    private void SaveCheckpoint(SGD optimizer, TrainingState state)
    {
        if (CheckpointPaths is not { } paths)
        {
            return;
        }

        Directory.CreateDirectory(_options.CheckpointDirectory!);

        // Write everything to temporary files first, then move them in place, so an interruption never leaves
        // a half-written checkpoint behind.
        _model.save(paths.Weights + ".tmp");
        optimizer.save_state_dict(paths.Optimizer + ".tmp");
        File.WriteAllText(paths.State + ".tmp", JsonSerializer.Serialize(state, JsonOptions));
        File.Move(paths.Weights + ".tmp", paths.Weights, overwrite: true);
        File.Move(paths.Optimizer + ".tmp", paths.Optimizer, overwrite: true);
        File.Move(paths.State + ".tmp", paths.State, overwrite: true);
    }

    private TrainingState LoadCheckpoint(SGD optimizer, int trainCount)
    {
        var paths = CheckpointPaths!.Value;
        TrainingState state;
        try
        {
            state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(paths.State))
                ?? throw new SampleException($"checkpoint state '{paths.State}' is empty.");
        }
        catch (JsonException e)
        {
            throw new SampleException($"checkpoint state '{paths.State}' is not valid JSON ({e.Message}); delete it or run without --resume.", e);
        }

        void Expect<T>(string what, T saved, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, now))
            {
                throw new SampleException(
                    $"checkpoint '{paths.State}' was made with {what} {saved}, this run uses {now}; rerun with the same settings or without --resume.");
            }
        }

        Expect("format", state.Format, 1);
        Expect("model", state.Name, _name);
        Expect("epochs", state.Epochs, _options.Epochs);
        Expect("batch size", state.BatchSize, _options.BatchSize);
        Expect("seed", state.Seed, _options.Seed);
        Expect("training-set size", state.TrainCount, trainCount);
        Expect("learning rate", state.LearningRate, _options.LearningRate);
        Expect("schedule", state.Schedule, _options.Schedule.ToString());
        if (state.CompletedEpochs < 0 || state.CompletedEpochs > state.Epochs || state.History.Count != state.CompletedEpochs)
        {
            throw new SampleException($"checkpoint '{paths.State}' is inconsistent ({state.CompletedEpochs} epochs done, {state.History.Count} results).");
        }

        _model.load(paths.Weights);
        optimizer.load_state_dict(paths.Optimizer);
        return state;
    }

    private static Tensor OnDevice(Tensor tensor, Device device) => device.type == DeviceType.CPU ? tensor : tensor.to(device);

    private static Device DeviceOf(nn.Module<Tensor, Tensor> model) => model.parameters().FirstOrDefault()?.device ?? CPU;

    private sealed class NullObserver : ITrainingObserver;

    /// <summary>The arithmetic of one training step; the epoch loop is <see cref="Run"/>.</summary>
    private abstract class Step : IDisposable
    {
        /// <summary>The optimizer whose learning rate the schedule sets.</summary>
        public abstract optim.Optimizer Optimizer { get; }

        /// <summary>Whether its state can be saved and restored (checkpoints).</summary>
        public abstract bool Checkpointable { get; }

        /// <summary>Forward, loss, backward and update on one batch (already on the device).</summary>
        /// <returns>The batch's mean loss and how many of its samples were misclassified.</returns>
        public abstract (double Loss, long Wrong) Train(Tensor images, Tensor labels);

        /// <summary>Converts an evaluation batch to what the model takes during training.</summary>
        public virtual Tensor PrepareInput(Tensor images) => images;

        /// <summary>Releases the optimizer (and, in bf16, turns the model back into fp32).</summary>
        public abstract void Dispose();
    }

    /// <summary>fp32: SGD on the model's own parameters.</summary>
    private sealed class FullPrecisionStep(nn.Module<Tensor, Tensor> model, TrainingOptions options) : Step
    {
        private readonly SGD _optimizer = optim.SGD(model.parameters(), options.LearningRate, momentum: options.Momentum, dampening: 0, weight_decay: options.WeightDecay);

        public override SGD Optimizer => _optimizer;

        public override bool Checkpointable => true;

        public override (double Loss, long Wrong) Train(Tensor images, Tensor labels)
        {
            using var scope = NewDisposeScope();
            _optimizer.zero_grad();
            var logits = model.call(images);
            var loss = nn.functional.cross_entropy(logits, labels);
            loss.backward();
            _optimizer.step();
            return (loss.item<float>(), logits.argmax(1).ne(labels).sum().item<long>());
        }

        public override void Dispose() => _optimizer.Dispose();
    }

    /// <summary>bf16 mixed precision: <see cref="MixedPrecisionTrainer"/> keeps fp32 master weights and runs SGD on them;
    /// disposing turns the model back into fp32 with the master weights.</summary>
    private sealed class MixedPrecisionStep(nn.Module<Tensor, Tensor> model, TrainingOptions options) : Step
    {
        private readonly MixedPrecisionTrainer _mixed = new(
            model,
            ps => optim.SGD(ps, options.LearningRate, momentum: options.Momentum, dampening: 0, weight_decay: options.WeightDecay),
            MixedPrecisionOptions.BFloat16);

        public override optim.Optimizer Optimizer => _mixed.Optimizer;

        public override bool Checkpointable => false;

        public override (double Loss, long Wrong) Train(Tensor images, Tensor labels)
        {
            long wrong = 0;
            var step = _mixed.Step(images, logits =>
            {
                wrong = logits.argmax(1).ne(labels).sum().item<long>();
                return nn.functional.cross_entropy(logits, labels);
            });
            return (step.Loss, wrong);
        }

        public override Tensor PrepareInput(Tensor images) => images.to(ScalarType.BFloat16);

        public override void Dispose() => _mixed.ToFullPrecision();
    }
}
