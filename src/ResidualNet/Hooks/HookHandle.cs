using System;
using System.Threading;

namespace ResidualNet.Hooks;

/// <summary>
/// Handle returned by every hook registration of <see cref="GradientHooks"/> and <see cref="ModuleHooks"/>.
/// Disposing it removes the hook; disposing again does nothing.
/// </summary>
/// <remarks>
/// A gradient hook whose autograd node is already part of a recorded graph cannot be taken out of that graph:
/// once the handle is disposed, the node passes the gradient through unchanged (an exact identity).
/// Exceptions thrown by a callback while the native autograd engine runs backward cannot travel through native
/// code; they are caught, the gradient passes unchanged, and the exception is kept in <see cref="LastError"/>.
/// </remarks>
public sealed class HookHandle : IDisposable
{
    private Action? _remove;
    private Exception? _lastError;
    private int _removed;

    internal HookHandle(Action? remove) => _remove = remove;

    /// <summary>Whether <see cref="Dispose"/> has been called.</summary>
    public bool IsRemoved => Volatile.Read(ref _removed) != 0;

    /// <summary>
    /// The last exception thrown by the hook's callback during a backward pass (or a replacement gradient that was
    /// rejected because its shape or dtype differed), or null if none. The gradient passed unchanged in that case.
    /// </summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Removes the hook. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _removed, 1) != 0)
        {
            return;
        }

        Interlocked.Exchange(ref _remove, null)?.Invoke();
    }

    internal void ReportError(Exception error) => Volatile.Write(ref _lastError, error);
}
